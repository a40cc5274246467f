import ProximaCore
import ProximaFormat
import ProximaIndex

/// One segment's rows and index, loaded and never changed afterwards: every
/// snapshot of the collection that names the segment shares this one object,
/// so neither a query nor a write copies it. What a later write supersedes is
/// a mask beside it (`CollectionView.SegmentView`), not a change in here.
final class LoadedSegment: Sendable {
    let id: String
    let dimension: Int
    /// Packed: an id becomes a String when its row is answered.
    let ids: PackedStrings
    /// Row-major; a tombstone's row is zeros.
    let vectors: [Float]
    let inverseNorms: [Float]
    let metadata: [[String: JSONValue]]
    let timestamps: [Int64]
    /// `Int64.max` where the record never expires.
    let expiresAt: [Int64]
    let versions: [Int64]
    /// Rows that delete their id (hiding it in older segments).
    let tombstones: Bitset
    /// Rows another row of this segment replaces (a segment should hold an id once; if not, the newest wins).
    let shadowed: Bitset
    private let lookup: RowLookup
    /// The least and greatest id of any row (UTF-8 order); nil when empty.
    /// Segments whose bounds do not overlap share no id: masking skips the
    /// pair (a compaction's outputs are such, each a range of sorted ids).
    let idBounds: (least: String, greatest: String)?
    let index: SegmentIndex?
    /// Per index node, the row it was built from (-1: none matches).
    let nodeRows: [Int32]
    /// With an index: live rows no node stands for (searched exactly; normally none).
    let unindexedRows: [Int]
    /// Set when the segment was opened cold: `vectors`, `inverseNorms` and
    /// `index` are empty, and the vectors and index are read by range.
    let cold: ColdParts?

    var count: Int { ids.count }

    /// The segment's rows with its index file (nil: none), whose nodes take their vectors from the rows.
    convenience init(id: String, rows: [SegmentRow], dimension: Int, indexFile: [UInt8]?) throws(FormatError) {
        let index = try indexFile.map { f throws(FormatError) in try SegmentIndex.decode(f, rows: rows) }
        self.init(id: id, rows: rows, dimension: dimension, index: index)
    }

    /// The segment's rows, vectors in memory.
    convenience init(id: String, rows: [SegmentRow], dimension: Int, index: SegmentIndex?) {
        var vectors = [Float](repeating: 0, count: rows.count * dimension)
        vectors.withUnsafeMutableBufferPointer { dst in
            for (r, row) in rows.enumerated() where !row.deleted {
                row.record.vector.withUnsafeBufferPointer { (dst.baseAddress! + r * dimension).update(from: $0.baseAddress!, count: dimension) }
            }
        }
        self.init(id: id, columns: SegmentCodec.RowColumns(rows), vectors: vectors, dimension: dimension, index: index, cold: nil)
    }

    /// The segment's row columns without their vectors, which stay in the
    /// store with its index (`cold`).
    convenience init(id: String, columns: SegmentCodec.RowColumns, dimension: Int, cold: ColdParts) throws(FormatError) {
        for r in cold.nodeRows where Int(r) >= columns.count || columns.deleted[Int(r)] {
            throw FormatError("index node row \(r) is not a live row of its segment")
        }
        self.init(id: id, columns: columns, vectors: [], dimension: dimension, index: nil, cold: cold)
    }

    /// `vectors`: row-major, a tombstone's row zeros; empty when `cold`.
    private init(id: String, columns: SegmentCodec.RowColumns, vectors: [Float], dimension: Int, index: SegmentIndex?, cold: ColdParts?) {
        self.id = id
        self.cold = cold
        self.dimension = dimension
        let n = columns.count
        let (ids, versions, tombstones) = (columns.ids, columns.versions, columns.deleted)
        var norms = [Float](repeating: 0, count: cold == nil ? n : 0)
        vectors.withUnsafeBufferPointer { v in
            for r in 0..<norms.count where !tombstones[r] { norms[r] = DistanceKernels.inverseNorm(v.baseAddress! + r * dimension, dimension) }
        }
        let lookup = RowLookup(ids: ids, versions: versions, deleted: tombstones)
        let shadowed = lookup.shadowed
        var nodeRows: [Int32] = []
        var unindexed: [Int] = []
        if let cold, cold.index != nil {
            // Nodes name rows; a node whose row another row of the segment shadows stands for nothing.
            nodeRows = cold.nodeRows.map { shadowed[Int($0)] ? -1 : $0 }
            var covered = Bitset(count: n)
            for r in nodeRows where r >= 0 { covered[Int(r)] = true }
            unindexed = (0..<n).filter { !covered[$0] && !tombstones[$0] && !shadowed[$0] }
        } else if let index {
            nodeRows = [Int32](repeating: -1, count: index.nodeIds.count)
            var covered = Bitset(count: n)
            for j in 0..<index.nodeIds.count {
                if let r = lookup.row(of: index.nodeIds[j], ids: ids), versions[Int(r)] == index.nodeVersions[j], !tombstones[Int(r)], !covered[Int(r)] {
                    nodeRows[j] = r
                    covered[Int(r)] = true
                }
            }
            unindexed = (0..<n).filter { !covered[$0] && !tombstones[$0] && !shadowed[$0] }
        }
        self.unindexedRows = unindexed
        self.idBounds = lookup.idBounds(ids)
        (self.ids, self.vectors, self.inverseNorms, self.metadata) = (ids, vectors, norms, columns.metadata)
        (self.timestamps, self.expiresAt, self.versions) = (columns.timestamps, columns.expiresAt, versions)
        (self.tombstones, self.shadowed, self.lookup, self.index, self.nodeRows) = (tombstones, shadowed, lookup, index, nodeRows)
    }

    /// Answering rows whose id `other` also holds; nil when either segment's
    /// ids are not in sorted runs (look them up one by one then).
    func rows(alsoIn other: LoadedSegment) -> [Int]? { lookup.rows(alsoIn: other.lookup, ids: ids, otherIds: other.ids) }

    /// The row answering for `id` (the newest of any that hold it), nil when none does.
    func row(of id: String) -> Int? { lookup.row(of: id, ids: ids).map(Int.init) }

    /// Whether an ANN index (in memory or read by range) serves this segment.
    var isIndexed: Bool { index != nil || cold?.index != nil }

    /// The record of `row`; its vector is empty for a tombstone and for a
    /// cold segment (read it with `cold.vectors`).
    func record(at row: Int) -> VectorRecord {
        VectorRecord(
            id: ids[row], vector: tombstones[row] || cold != nil ? [] : Array(vectors[(row * dimension)..<((row + 1) * dimension)]),
            metadata: metadata[row], timestamp: timestamps[row], expiresAt: expiresAt[row] == .max ? nil : expiresAt[row],
            version: versions[row])
    }
}
