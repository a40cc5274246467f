import ProximaCore

/// The exact nearest rows of many queries at once, in one pass over the rows:
/// the rows in blocks small enough to stay in cache while every query of a
/// group compares against them. A query scanning the rows alone reads them
/// all from memory, so a recall calibration's 128 probe scans of a 100k × 128
/// segment read 6.5 GB; blocked, the rows are read once per thread.
enum ExactBatch {
    /// Bytes of rows per block: well inside L2, with the group's queries beside them.
    static let blockBytes = 64 << 10

    /// Per query, the row positions of its `k` nearest rows, nearest first,
    /// by `metric.rankingDistance` (queries and rows in the space the index
    /// compares them in: unit length for cosine).
    static func nearest(
        _ queries: [[Float]], k: Int, rows: UnsafePointer<Float>, count: Int, dimension dim: Int, metric: DistanceMetric
    ) -> [[Int]] {
        guard !queries.isEmpty else { return [] }
        let flat = queries.flatMap(\.self)
        precondition(flat.count == queries.count * dim, "queries of the wrong dimension")
        let groups = min(queries.count, BuildThreads.cores)
        let blockRows = max(16, blockBytes / max(1, dim * 4))
        let found = UnsafeMutableBufferPointer<[Int]>.allocate(capacity: queries.count)
        _ = found.initialize(repeating: [])
        defer { found.deinitialize().deallocate() }
        // Groups write disjoint elements of `found`; `rows` outlives the call.
        nonisolated(unsafe) let out = found, base = rows
        BuildThreads.perform(iterations: groups, threads: groups) { g in
            let members = Array(stride(from: g, to: queries.count, by: groups))
            var tops = members.map { _ in TopK(k: k) }
            flat.withUnsafeBufferPointer { q in
                var start = 0
                while start < count {
                    let end = min(count, start + blockRows)
                    for (t, i) in members.enumerated() {
                        let query = q.baseAddress! + i * dim
                        for r in start..<end {
                            let d = metric.rankingDistance(query, base + r * dim, dimension: dim)
                            if tops[t].accepts(d) { tops[t].insert(slot: r, distance: d) }
                        }
                    }
                    start = end
                }
            }
            for (t, i) in members.enumerated() { out[i] = tops[t].sorted().map(\.slot) }
        }
        return Array(found)
    }

    /// As above, over the row-major `rows` an index keeps.
    static func nearest(_ queries: [[Float]], k: Int, rows: [Float], dimension dim: Int, metric: DistanceMetric) -> [[Int]] {
        guard !rows.isEmpty else { return queries.map { _ in [] } }
        return rows.withUnsafeBufferPointer {
            nearest(queries, k: k, rows: $0.baseAddress!, count: rows.count / max(dim, 1), dimension: dim, metric: metric)
        }
    }
}
