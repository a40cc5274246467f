import ProximaCore

/// One collection, resolved from the catalog once, for the operations of a
/// request: validate against its config, then write or search.
public struct OpenCollection: Sendable {
    let handle: CollectionHandle

    public var config: CollectionConfig { handle.config }

    public struct Stats: Sendable {
        public var vectorCount: Int
        public var vectorBytes: Int
        public var walSequence: Int64
        public var manifestVersion: Int64
        public var segmentCount: Int
        public var unflushedWALBytes: Int
        /// Segments whose ANN index this process searches through.
        public var indexedSegments: Int
    }

    public func write(_ intent: WriteIntent) async throws -> WriteOutcome { try await handle.write(intent) }

    public func get(_ id: String) async throws -> VectorRecord {
        let now = Timestamp.nowMicros()
        guard let record = try await handle.read({ $0.record(id, now: now) }) else {
            throw ProximaError(.vectorNotFound, "vector '\(id)' does not exist")
        }
        return record
    }

    public func stats() async throws -> Stats {
        let now = Timestamp.nowMicros()
        return try await handle.stats(now: now)
    }

    /// Nearest records for each query: through the segments' ANN indexes plus
    /// an exact scan of the rest, or exactly when `exact`. `targetRecall` sets
    /// each index's width from the recall it measured at build (else the
    /// collection's `ef_search` / `n_probes`); `threshold` keeps hits with score ≥ it.
    public func search(
        queries: [[Float]], k: Int, filter: Filter?, threshold: Float?, exact: Bool = false, targetRecall: Double? = nil
    ) async throws -> [[SearchHit]] {
        let metric = config.distanceMetric
        let now = Timestamp.nowMicros()
        let width = exact ? nil : Self.width(config, targetRecall: targetRecall)
        return try await handle.read { state in
            queries.map { q in
                state.search(q, k: k, filter: filter, now: now, width: width).compactMap { hit in
                    let score = metric.score(fromDistance: hit.distance)
                    if let threshold, score < threshold { return nil }
                    return SearchHit(record: hit.record, distance: hit.distance, score: score)
                }
            }
        }
    }
}

extension OpenCollection {
    /// Search width from the collection's settings and the request's target recall.
    static func width(_ config: CollectionConfig, targetRecall: Double?) -> SegmentIndex.Width {
        let ef = config.setting("ef_search").map { Int($0) } ?? 64
        let probes = config.setting("n_probes").map { Int($0) } ?? 16
        return SegmentIndex.Width(ef: max(1, min(ef, 4096)), probes: max(1, probes), targetRecall: targetRecall)
    }
}

public struct SearchHit: Sendable {
    public var record: VectorRecord
    public var distance: Float
    public var score: Float
}
