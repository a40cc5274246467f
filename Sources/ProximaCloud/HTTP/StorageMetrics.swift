import Synchronization

/// Counts of requests sent to cloud services, by HTTP method and outcome,
/// for `/metrics` (`proximadb_storage_requests_total`) and the benchmarks.
/// Process-wide, like any metrics registry.
public final class StorageMetrics: Sendable {
    public static let shared = StorageMetrics()

    public struct Key: Hashable, Sendable {
        public var method: String
        /// "2xx", "3xx", "4xx", "5xx" or "error" (no answer).
        public var outcome: String
    }

    private let counts = Mutex<[Key: Int]>([:])
    private let bytes = Mutex<(sent: Int, received: Int)>((0, 0))

    func record(method: String, status: Int?, sent: Int, received: Int) {
        let outcome = status.map { "\($0 / 100)xx" } ?? "error"
        counts.withLock { $0[Key(method: method, outcome: outcome), default: 0] += 1 }
        bytes.withLock { $0 = ($0.sent + sent, $0.received + received) }
    }

    public var snapshot: [Key: Int] { counts.withLock { $0 } }
    public var bytesSent: Int { bytes.withLock { $0.sent } }
    public var bytesReceived: Int { bytes.withLock { $0.received } }

    /// Prometheus text exposition.
    public func render() -> String {
        var out = "# HELP proximadb_storage_requests_total Requests sent to the object store, by method and outcome.\n"
        out += "# TYPE proximadb_storage_requests_total counter\n"
        for (k, v) in snapshot.sorted(by: { ($0.key.method, $0.key.outcome) < ($1.key.method, $1.key.outcome) }) {
            out += "proximadb_storage_requests_total{method=\"\(k.method)\",outcome=\"\(k.outcome)\"} \(v)\n"
        }
        out += "# HELP proximadb_storage_bytes_sent_total Request body bytes sent to the object store.\n"
        out += "# TYPE proximadb_storage_bytes_sent_total counter\nproximadb_storage_bytes_sent_total \(bytesSent)\n"
        out += "# HELP proximadb_storage_bytes_received_total Response body bytes received from the object store.\n"
        out += "# TYPE proximadb_storage_bytes_received_total counter\nproximadb_storage_bytes_received_total \(bytesReceived)\n"
        return out
    }
}
