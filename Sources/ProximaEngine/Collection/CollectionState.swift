import ProximaCore
import ProximaFormat
import ProximaIndex

/// The materialised view of a collection: every applied WAL entry, laid out
/// for scanning. Vectors are one contiguous row-major block; a freed slot is
/// reused by the next insert.
///
/// A value type with no I/O: the handle around it feeds it WAL entries.
public struct CollectionState: Sendable {
    public let dimension: Int
    public let metric: DistanceMetric
    /// Highest WAL sequence applied; every entry up to it is reflected here.
    public private(set) var appliedSequence: Int64 = 0

    private var slotOf: [String: Int] = [:]
    private var ids: [String] = []
    private var vectors: [Float] = []
    private var inverseNorms: [Float] = []
    private var metadata: [[String: JSONValue]] = []
    private var timestamps: [Int64] = []
    /// Int64.max when the record never expires.
    private var expiresAt: [Int64] = []
    private var versions: [Int64] = []
    private var live: [Bool] = []
    private var freeSlots: [Int] = []

    /// A segment's ANN index mapped onto this state's slots. Node j stands
    /// for `slots[j]` only while that slot still holds the version the node was
    /// built from: a later write or delete of the id supersedes the node (the
    /// delete bitmap), and the slot is searched exactly instead.
    struct AttachedIndex: Sendable {
        let segment: String
        let index: SegmentIndex
        /// Slot per node; -1 where the node was already superseded when attached.
        let slots: [Int32]
    }

    private var attached: [AttachedIndex] = []
    /// Per slot: a valid index node stands for it. Live slots that are not
    /// covered (the WAL tail, superseded rows) are scanned exactly.
    private var covered: [Bool] = []

    public init(dimension: Int, metric: DistanceMetric) {
        self.dimension = dimension
        self.metric = metric
    }

    public func liveCount(now: Int64) -> Int {
        var n = 0
        for slot in 0..<live.count where live[slot] && expiresAt[slot] > now { n += 1 }
        return n
    }

    public var vectorBytes: Int { slotOf.count * dimension * 4 }

    // MARK: reads

    public func record(_ id: String, now: Int64) -> VectorRecord? {
        guard let slot = slotOf[id], expiresAt[slot] > now else { return nil }
        return record(at: slot)
    }

    /// Whether the id exists and is not expired (an expired id may be inserted again).
    public func contains(_ id: String, now: Int64) -> Bool {
        guard let slot = slotOf[id] else { return false }
        return expiresAt[slot] > now
    }

    func record(at slot: Int) -> VectorRecord {
        VectorRecord(
            id: ids[slot], vector: Array(vectors[(slot * dimension)..<((slot + 1) * dimension)]), metadata: metadata[slot],
            timestamp: timestamps[slot], expiresAt: expiresAt[slot] == .max ? nil : expiresAt[slot], version: versions[slot])
    }

    /// Ids of live records matching `filter`.
    public func ids(matching filter: Filter, now: Int64) -> [String] {
        var out: [String] = []
        for slot in 0..<live.count where live[slot] && expiresAt[slot] > now && filter.matches(metadata[slot]) {
            out.append(ids[slot])
        }
        return out
    }

    public struct Hit: Sendable {
        public var record: VectorRecord
        public var distance: Float
    }

    /// Segments whose index is attached.
    var attachedSegments: Set<String> { Set(attached.map(\.segment)) }

    /// Maps a segment's index onto the current slots.
    mutating func attach(segment: String, index: SegmentIndex) {
        var slots = [Int32](repeating: -1, count: index.nodeIds.count)
        for j in 0..<index.nodeIds.count {
            guard let slot = slotOf[index.nodeIds[j]], versions[slot] == index.nodeVersions[j], live[slot], !covered[slot] else { continue }
            slots[j] = Int32(slot)
            covered[slot] = true
        }
        attached.append(AttachedIndex(segment: segment, index: index, slots: slots))
    }

    /// Drops a segment's index (its segment left the manifest); what it covered is scanned exactly until another covers it.
    mutating func detach(segment: String) {
        guard let i = attached.firstIndex(where: { $0.segment == segment }) else { return }
        let gone = attached.remove(at: i)
        for (j, s) in gone.slots.enumerated() where s >= 0 && versions[Int(s)] == gone.index.nodeVersions[j] {
            covered[Int(s)] = false
        }
    }

    /// Top-k over live, unexpired records passing `filter`: through the
    /// attached indexes at `width` plus an exact scan of what they do not
    /// cover, or exactly over everything when `width` is nil or nothing is indexed.
    func search(_ query: [Float], k: Int, filter: Filter?, now: Int64, width: SegmentIndex.Width?) -> [Hit] {
        let filter = filter.flatMap { $0.isTrivial ? nil : $0 }
        guard let width, !attached.isEmpty, k > 0 else { return search(query, k: k, filter: filter, now: now) }
        var top = TopK(k: k)
        let (live, covered, versions, expiresAt, metadata) = (self.live, self.covered, self.versions, self.expiresAt, self.metadata)
        for a in attached {
            let slots = a.slots, built = a.index.nodeVersions
            let hits = a.index.search(query, k: k, width: width, filtered: filter != nil) { node in
                let s = Int(slots[Int(node)])
                return s >= 0 && covered[s] && versions[s] == built[Int(node)] && expiresAt[s] > now
                    && (filter?.matches(metadata[s]) ?? true)
            }
            for h in hits { top.insert(slot: Int(slots[Int(h.node)]), distance: h.distance) }
        }
        // Index hits are covered slots; the rest is scanned exactly, in slot order (sequential memory).
        query.withUnsafeBufferPointer { q in
            vectors.withUnsafeBufferPointer { v in
                let qInv = DistanceKernels.inverseNorm(q.baseAddress!, dimension)
                for slot in 0..<live.count where live[slot] && !covered[slot] && expiresAt[slot] > now {
                    let d = metric.distance(
                        q.baseAddress!, v.baseAddress! + slot * dimension, dimension: dimension, inverseNormA: qInv,
                        inverseNormB: inverseNorms[slot])
                    if top.accepts(d), filter?.matches(metadata[slot]) ?? true { top.insert(slot: slot, distance: d) }
                }
            }
        }
        return top.sorted().map { Hit(record: record(at: $0.slot), distance: $0.distance) }
    }

    /// Exact top-k over live, unexpired records passing `filter`.
    public func search(_ query: [Float], k: Int, filter: Filter?, now: Int64) -> [Hit] {
        let scan = FlatScan(metric: metric, dimension: dimension)
        let filter = filter.flatMap { $0.isTrivial ? nil : $0 }
        let candidates = vectors.withUnsafeBufferPointer { v in
            inverseNorms.withUnsafeBufferPointer { norms in
                live.withUnsafeBufferPointer { live in
                    expiresAt.withUnsafeBufferPointer { expires in
                        scan.search(
                            query: query, k: k, vectors: v.baseAddress ?? UnsafePointer(bitPattern: 16)!,
                            inverseNorms: norms.baseAddress, count: live.count
                        ) { slot in
                            live[slot] && expires[slot] > now && (filter?.matches(metadata[slot]) ?? true)
                        }
                    }
                }
            }
        }
        return candidates.map { Hit(record: record(at: $0.slot), distance: $0.distance) }
    }

    // MARK: writes

    /// Applies one committed WAL object. Entries at or below `appliedSequence` are ignored.
    public mutating func apply(_ entries: [WALEntry], sequence: Int64) {
        guard sequence > appliedSequence else { return }
        for entry in entries {
            switch entry.operation {
            case .insert, .upsert, .update: put(entry.record)
            case .delete: remove(entry.record.id)
            }
        }
        appliedSequence = sequence
    }

    /// Applies one segment's rows (segments in manifest order: later wins).
    public mutating func apply(segmentRows rows: [SegmentRow]) {
        for row in rows {
            if row.deleted { remove(row.record.id) } else { put(row.record) }
        }
    }

    /// Declares every WAL entry up to `sequence` applied (its segments are loaded).
    public mutating func markApplied(through sequence: Int64) {
        appliedSequence = max(appliedSequence, sequence)
    }

    private mutating func put(_ r: VectorRecord) {
        precondition(r.vector.count == dimension, "WAL record of the wrong dimension")
        let slot: Int
        if let existing = slotOf[r.id] {
            slot = existing
        } else if let free = freeSlots.popLast() {
            slot = free
            slotOf[r.id] = slot
        } else {
            slot = live.count
            slotOf[r.id] = slot
            ids.append("")
            vectors.append(contentsOf: repeatElement(0, count: dimension))
            inverseNorms.append(0)
            metadata.append([:])
            timestamps.append(0)
            expiresAt.append(0)
            versions.append(0)
            live.append(false)
            covered.append(false)
        }
        ids[slot] = r.id
        vectors.withUnsafeMutableBufferPointer { dst in
            r.vector.withUnsafeBufferPointer { src in
                (dst.baseAddress! + slot * dimension).update(from: src.baseAddress!, count: dimension)
            }
        }
        inverseNorms[slot] = r.vector.withUnsafeBufferPointer { DistanceKernels.inverseNorm($0.baseAddress!, dimension) }
        metadata[slot] = r.metadata
        timestamps[slot] = r.timestamp
        expiresAt[slot] = r.expiresAt ?? .max
        versions[slot] = r.version
        live[slot] = true
        covered[slot] = false
    }

    private mutating func remove(_ id: String) {
        guard let slot = slotOf.removeValue(forKey: id) else { return }
        live[slot] = false
        ids[slot] = ""
        metadata[slot] = [:]
        covered[slot] = false
        freeSlots.append(slot)
    }
}
