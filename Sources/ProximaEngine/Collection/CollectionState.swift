import ProximaCore
import ProximaFormat
import ProximaIndex

/// What one process knows of a collection: the segments of the manifest it
/// read and every WAL entry applied after it, as a `CollectionView` that
/// queries take as a snapshot, plus the lookup of ids in the tail that only
/// writes need.
///
/// A value type with no I/O: the handle around it loads segments and feeds it
/// WAL entries.
public struct CollectionState: Sendable {
    public let dimension: Int
    public let metric: DistanceMetric
    /// Highest WAL sequence applied; every entry up to it is reflected here.
    public private(set) var appliedSequence: Int64 = 0
    private(set) var view: CollectionView
    /// The tail row holding each id's newest entry.
    private var tailRowOf: [String: Int] = [:]

    public init(dimension: Int, metric: DistanceMetric) {
        self.dimension = dimension
        self.metric = metric
        view = CollectionView(dimension: dimension, metric: metric)
    }

    // MARK: reads

    /// The newest entry for `id`: the tail's, else the newest segment's.
    private func newest(_ id: String) -> VectorRecord? {
        if let t = tailRowOf[id] { return view.tail.isDeleted(t) ? nil : view.tail.record(at: t) }
        return view.segmentRecord(id).record
    }

    public func record(_ id: String, now: Int64) -> VectorRecord? {
        guard let r = newest(id), (r.expiresAt ?? .max) > now else { return nil }
        return r
    }

    /// The WAL sequence of `id`'s newest entry, a delete's included; nil when
    /// none is known. A record's version is the sequence that wrote it.
    func newestSequence(_ id: String) -> Int64? {
        if let t = tailRowOf[id] { return view.tail.sequence(t) }
        for s in view.segments.reversed() {
            if let r = s.data.row(of: id) { return s.data.versions[r] }
        }
        return nil
    }

    /// Whether the id exists and is not expired (an expired id may be inserted again).
    public func contains(_ id: String, now: Int64) -> Bool { record(id, now: now) != nil }

    /// Ids of live records matching `filter`.
    public func ids(matching filter: Filter, now: Int64) -> [String] {
        var positions: [CollectionView.Position] = []
        view.forEachVisible { p, expires, metadata in
            if expires > now, filter.matches(metadata) { positions.append(p) }
        }
        return positions.map { view.record(at: $0).id }
    }

    public func liveCount(now: Int64) -> Int { view.visibleCounts(now: now).live }

    /// Segments loaded, by id.
    var segmentIds: [String] { view.segments.map(\.data.id) }

    // MARK: writes

    /// Applies one committed WAL object. Entries at or below `appliedSequence` are ignored.
    public mutating func apply(_ entries: [WALEntry], sequence: Int64) {
        guard sequence > appliedSequence else { return }
        for entry in entries { append(entry.record, deleted: entry.operation == .delete, sequence: sequence) }
        appliedSequence = sequence
    }

    private mutating func append(_ record: VectorRecord, deleted: Bool, sequence: Int64) {
        if let t = tailRowOf[record.id] { view.markTailSuperseded(t) } else { view.maskSegmentRow(of: record.id) }
        tailRowOf[record.id] = view.appendTail(record, deleted: deleted, sequence: sequence)
    }

    /// Rebuilds over a manifest's segments (in its order) holding the WAL
    /// through `walThrough`: tail entries it covers are dropped, newer ones kept.
    /// `segmentsView` is the manifest's segments alone, built off the caller's actor.
    mutating func rebase(onto segmentsView: CollectionView, walThrough: Int64) {
        let kept = view.tail.rows(after: walThrough)
        view = segmentsView
        tailRowOf = [:]
        for row in kept { append(row.record, deleted: row.deleted, sequence: row.sequence) }
        appliedSequence = max(appliedSequence, walThrough)
    }

    /// Appends the entries `current` applied after this state's sequence:
    /// this state was rebased from an earlier copy of `current` while it went on.
    mutating func append(tailOf current: CollectionState) {
        guard current.appliedSequence > appliedSequence else { return }
        for row in current.view.tail.rows(after: appliedSequence) { append(row.record, deleted: row.deleted, sequence: row.sequence) }
        appliedSequence = current.appliedSequence
    }

    // MARK: search

    typealias Hit = CollectionView.Hit

    /// Exact top-k over live, unexpired records passing `filter`.
    func search(_ query: [Float], k: Int, filter: Filter?, now: Int64) async throws -> [Hit] {
        try await view.search(query, k: k, filter: filter, now: now, width: nil)
    }
}
