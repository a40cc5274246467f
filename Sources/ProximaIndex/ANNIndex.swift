import ProximaCore

/// What a segment needs of any approximate index over its rows, so the
/// engine's read path treats graphs and centroid indexes alike: search at a
/// width, the recall each width reaches, and the bytes it is stored as (whose
/// size the manifest records). Slots are row positions in the order the index
/// was built (or renumbered) in.
public protocol ANNIndex: Sendable {
    /// Rows indexed.
    var count: Int { get }
    /// The search width (HNSW's `ef`, IVF's probes) when a request names none.
    func defaultWidth(ef: Int, probes: Int) -> Int
    /// The `k` nearest slots among those `accept` keeps, nearest first, in
    /// the metric's own distance; `width` as `defaultWidth` chooses it.
    func search(_ query: [Float], k: Int, width: Int, accept: ((Int32) -> Bool)?, plan: FilterPlan?) -> [(slot: Int32, distance: Float)]
    /// Recall@10 at each width, measured on queries near its own rows.
    func measureRecall() -> RecallCalibration
    /// The stored form, laid out for mmap and ranged reads; without the
    /// vectors it was built on when `includingVectors` is false (whoever
    /// opens it supplies them: a segment's index keeps no second copy).
    func serialized(includingVectors: Bool) -> [UInt8]
}

extension HNSWIndex: ANNIndex {
    public func defaultWidth(ef: Int, probes: Int) -> Int { ef }

    public func search(_ query: [Float], k: Int, width: Int, accept: ((Int32) -> Bool)?, plan: FilterPlan?) -> [(slot: Int32, distance: Float)] {
        search(query, k: k, ef: max(width, k), accept: accept, plan: plan).map { ($0.slot, $0.distance) }
    }

    public func measureRecall() -> RecallCalibration { calibrate(samples: 64) }
}

extension IVFIndex: ANNIndex {
    public func defaultWidth(ef: Int, probes: Int) -> Int { probes }

    public func search(_ query: [Float], k: Int, width: Int, accept: ((Int32) -> Bool)?, plan: FilterPlan?) -> [(slot: Int32, distance: Float)] {
        search(query, k: k, nProbes: width, rerank: suggestedRerank, accept: accept, plan: plan).map { (Int32($0.slot), $0.distance) }
    }

    public func measureRecall() -> RecallCalibration { calibrate(rerank: suggestedRerank, samples: 64) }
}

/// What reading an index's stored form cost: rounds of reads issued
/// together, requests, bytes.
public typealias ColdReadCost = IVFIndex.RangedFile.Cost

/// An index searched through ranged reads of its stored form, never loaded
/// whole: the cold path, for a file in the object store or on a disk not yet
/// cached. Centroid indexes have one (IVF's `RangedFile`: a small constant
/// number of rounds whatever the size); graph indexes do not, since every hop
/// would be a round trip.
public protocol ColdANNIndex: Sendable {
    var count: Int { get }
    /// As `ANNIndex.search` without a filter, and what the reads cost.
    func search(_ query: [Float], k: Int, width: Int) async throws -> (hits: [(slot: Int32, distance: Float)], cost: ColdReadCost)
}

extension IVFIndex.RangedFile: ColdANNIndex {
    public func search(_ query: [Float], k: Int, width: Int) async throws -> (hits: [(slot: Int32, distance: Float)], cost: ColdReadCost) {
        let (hits, cost) = try await search(query, k: k, nProbes: width, rerank: skeleton.suggestedRerank)
        return (hits.map { (Int32($0.slot), $0.distance) }, cost)
    }
}
