import ProximaCore

/// One collection, resolved from the catalog once, for the operations of a
/// request: validate against its config, then write or search.
public struct OpenCollection: Sendable {
    let handle: CollectionHandle
    let limits: RequestLimits

    /// The collection's configuration as the catalog held it when opened.
    public var config: CollectionConfig { handle.config }

    /// What `GET /collections/{name}` reports of a collection's contents.
    public struct Stats: Sendable {
        /// Live records (neither deleted nor expired).
        public var vectorCount: Int
        public var vectorBytes: Int
        /// The newest WAL sequence this process has applied.
        public var walSequence: Int64
        /// The newest manifest version (0: nothing flushed yet).
        public var manifestVersion: Int64
        public var segmentCount: Int
        /// WAL bytes not yet in a segment (what the next flush takes): the indexing backlog.
        public var unflushedWALBytes: Int
        /// When the oldest write not yet in a segment was made (µs; nil when there is none).
        public var oldestUnflushedWrite: Int64?
        /// Segments whose ANN index this process searches through.
        public var indexedSegments: Int
        /// Graph segments searched in place from the local disk (opened cold; the others go through their route).
        public var localGraphSegments = 0
    }

    /// Validates the write against the collection, then commits it to the WAL.
    public func write(_ intent: WriteIntent) async throws(ProximaError) -> WriteOutcome {
        try intent.validate(config, limits: limits)
        return try await convertingErrors { try await handle.write(intent) }
    }

    /// The live record with this id; `vector_not_found` if it is absent, deleted or expired.
    public func get(_ id: String) async throws(ProximaError) -> VectorRecord {
        try Validation.vectorId(id)
        let now = handle.settings.clock.nowMicros()
        guard let record = try await convertingErrors({ try await handle.record(id, now: now) }) else {
            throw ProximaError(.vectorNotFound, "vector '\(id)' does not exist")
        }
        return record
    }

    /// Counts as of the newest acknowledged write.
    public func stats() async throws(ProximaError) -> Stats {
        let now = handle.settings.clock.nowMicros()
        return try await convertingErrors { try await handle.stats(now: now) }
    }

    /// Nearest records for each query: through the segments' ANN indexes plus
    /// an exact scan of the rest, or exactly when `exact`. `targetRecall` sets
    /// each index's width from the recall it measured at build (else the
    /// collection's `ef_search` / `n_probes`); `threshold` keeps hits with score ≥ it.
    public func search(_ request: SearchRequest) async throws(ProximaError) -> [[SearchHit]] {
        try request.validate(config, limits: limits)
        let metric = config.distanceMetric
        let now = handle.settings.clock.nowMicros()
        let width = request.exact ? nil : Self.width(config, targetRecall: request.targetRecall)
        let (k, filter, threshold) = (request.k, request.filter, request.threshold)
        let queries = request.queries
        // Searched outside the handle (a slow query holds up no write) and off the cooperative pool.
        @Sendable func answers(_ view: CollectionView) async throws -> [[CollectionView.Hit]] {
            var out: [[CollectionView.Hit]] = []
            for q in queries { out.append(try await view.search(q, k: k, filter: filter, now: now, width: width)) }
            return out
        }
        let hits = try await convertingErrors { () async throws -> [[CollectionView.Hit]] in
            // A strong read's catch-up is a round trip that usually finds nothing new:
            // the search goes on meanwhile over the view as it stands, and is kept if so.
            if request.consistency == .strong, let guess = await handle.guess() {
                async let speculative = answers(guess.view)
                let current = try await handle.snapshot(.strong)
                if current.version == guess.version { return try await speculative }
                return try await answers(current.view)
            }
            return try await answers(handle.snapshot(request.consistency).view)
        }
        return hits.map { list in
            list.compactMap { hit in
                let score = metric.score(fromDistance: hit.distance)
                if let threshold, score < threshold { return nil }
                return SearchHit(record: hit.record, distance: hit.distance, score: score)
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
