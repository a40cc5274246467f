import ProximaCore

/// A search as every transport asks it: one or more query vectors against one
/// collection. The engine checks it against the collection's config and the
/// request limits.
public struct SearchRequest: Sendable {
    /// The collection searched, in the tenant of the caller's credential.
    public var collection: CollectionPath
    /// One or more query vectors, each of the collection's dimension (answers come in the same order).
    public var queries: [[Float]]
    /// Hits per query, from 1 to `RequestLimits.maxK`.
    public var k: Int
    /// Only records whose metadata matches are returned.
    public var filter: Filter?
    /// Keeps hits whose score is at least this.
    public var threshold: Float?
    /// Exact scan, no index.
    public var exact: Bool
    /// Each segment index's width from the recall it measured at build, in (0, 1].
    public var targetRecall: Double?
    public var consistency: Consistency

    public init(
        collection: CollectionPath, queries: [[Float]], k: Int = 10, filter: Filter? = nil, threshold: Float? = nil,
        exact: Bool = false, targetRecall: Double? = nil, consistency: Consistency = .strong
    ) {
        self.consistency = consistency
        self.collection = collection
        self.queries = queries
        self.k = k
        self.filter = filter
        self.threshold = threshold
        self.exact = exact
        self.targetRecall = targetRecall
    }

    func validate(_ config: CollectionConfig, limits: RequestLimits) throws(ProximaError) {
        guard !queries.isEmpty, queries.count <= limits.maxQueries else {
            throw ProximaError(.invalidRequest, "send 1 to \(limits.maxQueries) query vectors")
        }
        for (i, q) in queries.enumerated() {
            do throws(ProximaError) { try Validation.vector(q, config: config) } catch {
                throw queries.count == 1 ? error : ProximaError(error.code, "queries[\(i)]: \(error.message)")
            }
        }
        guard k >= 1, k <= limits.maxK else { throw ProximaError(.invalidRequest, "'k' must be an integer from 1 to \(limits.maxK)") }
        if let threshold, !threshold.isFinite { throw ProximaError(.invalidRequest, "'threshold' must be a number") }
        if let targetRecall, !(targetRecall > 0 && targetRecall <= 1) {
            throw ProximaError(.invalidRequest, "'target_recall' must be in (0, 1]")
        }
    }
}

/// What a read must see. `strong` (the default): every write acknowledged
/// before it started, for one object-store request when the process is warm.
/// `eventual`: what this process saw at most `MaintenanceSettings.eventualStaleness`
/// ago (1 s by default), with no request at all when warm.
public enum Consistency: String, Sendable {
    case strong, eventual
}

/// One result: the record as stored, its distance in the metric's own terms,
/// and a score where larger is better for every metric.
public struct SearchHit: Sendable {
    public var record: VectorRecord
    public var distance: Float
    public var score: Float
}
