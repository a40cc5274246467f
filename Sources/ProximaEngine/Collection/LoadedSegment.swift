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
    let ids: [String]
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
    let rowOf: [String: Int32]
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

    /// The segment's rows without their vectors (empty), which stay in the
    /// store with its index (`cold`).
    convenience init(id: String, rows: [SegmentRow], dimension: Int, cold: ColdParts) throws(FormatError) {
        for r in cold.nodeRows where Int(r) >= rows.count || rows[Int(r)].deleted {
            throw FormatError("index node row \(r) is not a live row of its segment")
        }
        self.init(id: id, rows: rows, dimension: dimension, index: nil, cold: cold)
    }

    init(id: String, rows: [SegmentRow], dimension: Int, index: SegmentIndex?, cold: ColdParts? = nil) {
        self.id = id
        self.cold = cold
        self.dimension = dimension
        let n = rows.count
        var ids: [String] = [], metadata: [[String: JSONValue]] = []
        var timestamps: [Int64] = [], expires: [Int64] = [], versions: [Int64] = []
        ids.reserveCapacity(n)
        metadata.reserveCapacity(n)
        timestamps.reserveCapacity(n)
        expires.reserveCapacity(n)
        versions.reserveCapacity(n)
        let resident = cold == nil
        var vectors = [Float](repeating: 0, count: resident ? n * dimension : 0)
        var norms = [Float](repeating: 0, count: resident ? n : 0)
        var tombstones = Bitset(count: n), shadowed = Bitset(count: n)
        var rowOf = [String: Int32](minimumCapacity: n)
        // Fields read in place (a row copied whole retains its id, metadata and vector: a tenth of a
        // million-row cold open went to that).
        var bounds: (least: String, greatest: String)?
        rows.withUnsafeBufferPointer { rows in
            for r in 0..<n {
                let id = rows[r].record.id
                ids.append(id)
                if let b = bounds {
                    if id.utf8.lexicographicallyPrecedes(b.least.utf8) { bounds!.least = id }
                    if b.greatest.utf8.lexicographicallyPrecedes(id.utf8) { bounds!.greatest = id }
                } else {
                    bounds = (id, id)
                }
                metadata.append(rows[r].record.metadata)
                timestamps.append(rows[r].record.timestamp)
                expires.append(rows[r].record.expiresAt ?? .max)
                let version = rows[r].record.version
                versions.append(version)
                if rows[r].deleted {
                    tombstones[r] = true
                } else if resident {
                    vectors.withUnsafeMutableBufferPointer { dst in
                        rows[r].record.vector.withUnsafeBufferPointer { src in
                            (dst.baseAddress! + r * dimension).update(from: src.baseAddress!, count: dimension)
                            norms[r] = DistanceKernels.inverseNorm(src.baseAddress!, dimension)
                        }
                    }
                }
                if let other = rowOf[id] {
                    if versions[Int(other)] > version {
                        shadowed[r] = true
                        continue
                    }
                    shadowed[Int(other)] = true
                }
                rowOf[id] = Int32(r)
            }
        }
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
                if let r = rowOf[index.nodeIds[j]], versions[Int(r)] == index.nodeVersions[j], !tombstones[Int(r)], !covered[Int(r)] {
                    nodeRows[j] = r
                    covered[Int(r)] = true
                }
            }
            unindexed = (0..<n).filter { !covered[$0] && !tombstones[$0] && !shadowed[$0] }
        }
        self.unindexedRows = unindexed
        self.idBounds = bounds
        (self.ids, self.vectors, self.inverseNorms, self.metadata) = (ids, vectors, norms, metadata)
        (self.timestamps, self.expiresAt, self.versions) = (timestamps, expires, versions)
        (self.tombstones, self.shadowed, self.rowOf, self.index, self.nodeRows) = (tombstones, shadowed, rowOf, index, nodeRows)
    }

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
