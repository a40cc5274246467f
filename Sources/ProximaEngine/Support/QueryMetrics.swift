import Synchronization

/// Object-store requests per search, by consistency, for `/metrics`
/// (`proximadb_search_storage_requests`): what a warm query costs (one
/// strongly consistent, none eventual) and what a cold one does. Process-wide.
public final class QueryMetrics: Sendable {
    public static let shared = QueryMetrics()

    static let buckets = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55]

    private struct Histogram {
        var counts = [Int](repeating: 0, count: QueryMetrics.buckets.count)
        var sum = 0
        var total = 0
        var bytes = 0
    }

    private let histograms = Mutex<[Consistency: Histogram]>([:])

    func record(requests: Int, bytes: Int, consistency: Consistency) {
        histograms.withLock { all in
            var h = all[consistency] ?? Histogram()
            for (i, bound) in Self.buckets.enumerated() where requests <= bound { h.counts[i] += 1 }
            h.sum += requests
            h.total += 1
            h.bytes += bytes
            all[consistency] = h
        }
    }

    /// Prometheus text exposition.
    public func render() -> String {
        let name = "proximadb_search_storage_requests", bytesName = "proximadb_search_storage_bytes_total"
        let all = histograms.withLock { $0 }.sorted { $0.key.rawValue < $1.key.rawValue }
        var out = "# HELP \(name) Object-store requests made by one search request.\n# TYPE \(name) histogram\n"
        for (consistency, h) in all {
            let label = "consistency=\"\(consistency.rawValue)\""
            for (i, bound) in Self.buckets.enumerated() { out += "\(name)_bucket{\(label),le=\"\(bound)\"} \(h.counts[i])\n" }
            out += "\(name)_bucket{\(label),le=\"+Inf\"} \(h.total)\n\(name)_sum{\(label)} \(h.sum)\n\(name)_count{\(label)} \(h.total)\n"
        }
        out += "# HELP \(bytesName) Object bytes read from the store by search requests.\n# TYPE \(bytesName) counter\n"
        for (consistency, h) in all { out += "\(bytesName){consistency=\"\(consistency.rawValue)\"} \(h.bytes)\n" }
        return out
    }
}
