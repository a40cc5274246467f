import ProximaCore

/// A segment's index file: which index it holds, the node table (the row of
/// its segment's data file each node was built from: the id, version and
/// vector are there, in the one copy), the recall the index measured at each
/// search width, then the index's own bytes (HNSW or IVF, laid out for mmap
/// and ranged reads by `ProximaIndex`), starting 64-byte aligned.
///
///     "PXSIDX03", u32 kind, u64 nodes, u32 points, (u32 width, f32 recall) × points,
///     u32 row × nodes, zero padding to 64, body
///
/// Older files are still read: `PXSIDX02` kept each node's id and version
/// (`i64 version × nodes, (u32 length, UTF-8 id) × nodes` after the points),
/// `PXSIDX01` the same without points.
public struct SegmentIndexFile: Sendable, Equatable {
    public typealias Point = RecallPoint

    /// 1 HNSW, 2 IVF.
    public var kind: UInt32
    /// Each node's row in its segment's data file (empty in files from before rows).
    public var nodeRows: [Int32]
    /// Each node's id and version, in files from before rows (else empty).
    public var nodeIds: [String]
    public var nodeVersions: [Int64]
    public var calibration: [Point]
    public var body: [UInt8]

    public init(kind: UInt32, nodeRows: [Int32], calibration: [Point], body: [UInt8]) {
        self.kind = kind
        self.nodeRows = nodeRows
        self.nodeIds = []
        self.nodeVersions = []
        self.calibration = calibration
        self.body = body
    }

    /// A file as `PXSIDX02` wrote them (kept for reading old files and testing that).
    public init(kind: UInt32, nodeIds: [String], nodeVersions: [Int64], calibration: [Point], body: [UInt8]) {
        self.kind = kind
        self.nodeRows = []
        self.nodeIds = nodeIds
        self.nodeVersions = nodeVersions
        self.calibration = calibration
        self.body = body
    }

    public var nodeCount: Int { nodeRows.isEmpty ? nodeIds.count : nodeRows.count }

    static let magic: [UInt8] = Array("PXSIDX03".utf8)
    static let idMagic: [UInt8] = Array("PXSIDX02".utf8)
    static let uncalibratedMagic: [UInt8] = Array("PXSIDX01".utf8)

    /// Row tables as `PXSIDX03`; id tables as `PXSIDX02`.
    public func encode() -> [UInt8] {
        var w = ByteWriter()
        let byRows = nodeIds.isEmpty
        w.bytes(byRows ? Self.magic : Self.idMagic)
        w.u32(kind)
        w.u64(UInt64(nodeCount))
        w.u32(UInt32(calibration.count))
        for point in calibration {
            w.u32(UInt32(point.width))
            w.u32(point.recall.bitPattern)
        }
        if byRows {
            for r in nodeRows { w.u32(UInt32(bitPattern: r)) }
        } else {
            for v in nodeVersions { w.u64(UInt64(bitPattern: v)) }
            for id in nodeIds {
                w.u32(UInt32(id.utf8.count))
                w.bytes(Array(id.utf8))
            }
        }
        w.align(64)
        w.bytes(body)
        return w.out
    }

    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> SegmentIndexFile {
        var r = ByteReader(bytes)
        let version = try r.bytes(8)
        guard version == magic || version == idMagic || version == uncalibratedMagic else { throw FormatError("not a segment index") }
        let kind = try r.u32()
        let n = Int(clamping: try r.u64())
        guard n <= bytes.count / (version == magic ? 4 : 12) else { throw FormatError("segment index node count \(n) is impossible") }
        var points: [Point] = []
        if version != uncalibratedMagic {
            let count = Int(try r.u32())
            guard count <= 64 else { throw FormatError("segment index calibration has \(count) points") }
            for _ in 0..<count {
                let width = Int(try r.u32()), recall = Float(bitPattern: try r.u32())
                guard width >= 1, recall >= 0, recall <= 1 else { throw FormatError("bad calibration point") }
                points.append(Point(width: width, recall: recall))
            }
        }
        if version == magic {
            let rows = try r.array(UInt32.self, count: n).map { Int32(bitPattern: UInt32(littleEndian: $0)) }
            guard rows.allSatisfy({ $0 >= 0 }) else { throw FormatError("segment index node row out of range") }
            try r.align(64)
            return SegmentIndexFile(kind: kind, nodeRows: rows, calibration: points, body: try r.bytes(r.remaining))
        }
        let versions = try r.array(UInt64.self, count: n).map { Int64(bitPattern: UInt64(littleEndian: $0)) }
        var ids: [String] = []
        ids.reserveCapacity(n)
        for _ in 0..<n {
            let length = Int(try r.u32())
            guard let id = String(validating: try r.slice(length), as: UTF8.self) else { throw FormatError("node id is not UTF-8") }
            ids.append(id)
        }
        try r.align(64)
        return SegmentIndexFile(kind: kind, nodeIds: ids, nodeVersions: versions, calibration: points, body: try r.bytes(r.remaining))
    }

    /// What precedes the body of a `PXSIDX03` file, and where the body starts:
    /// enough to search the body by ranged reads.
    public struct Head: Sendable {
        public var kind: UInt32
        public var nodeRows: [Int32]
        public var calibration: [Point]
        public var bodyOffset: Int
    }

    /// The head of a file from its first bytes: the head, or how many bytes
    /// it needs when `prefix` is shorter; nil head and 0 for files from before
    /// row tables (open those whole).
    public static func head(_ prefix: [UInt8], fileSize: Int) throws(FormatError) -> (head: Head?, needed: Int) {
        guard prefix.count >= 24 else { return (nil, 24) }
        var r = ByteReader(prefix)
        let version = try r.bytes(8)
        guard version == magic || version == idMagic || version == uncalibratedMagic else { throw FormatError("not a segment index") }
        guard version == magic else { return (nil, 0) }
        let kind = try r.u32()
        let n = Int(clamping: try r.u64())
        let count = Int(try r.u32())
        guard count <= 64, n <= fileSize / 4 else { throw FormatError("segment index head is impossible") }
        let bodyOffset = (24 + count * 8 + n * 4 + 63) / 64 * 64
        guard bodyOffset <= fileSize else { throw FormatError("segment index head runs past the file") }
        guard prefix.count >= bodyOffset else { return (nil, bodyOffset) }
        var points: [Point] = []
        for _ in 0..<count {
            let width = Int(try r.u32()), recall = Float(bitPattern: try r.u32())
            guard width >= 1, recall >= 0, recall <= 1 else { throw FormatError("bad calibration point") }
            points.append(Point(width: width, recall: recall))
        }
        let rows = try r.array(UInt32.self, count: n).map { Int32(bitPattern: UInt32(littleEndian: $0)) }
        guard rows.allSatisfy({ $0 >= 0 }) else { throw FormatError("segment index node row out of range") }
        return (Head(kind: kind, nodeRows: rows, calibration: points, bodyOffset: bodyOffset), bodyOffset)
    }
}
