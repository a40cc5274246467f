import ProximaCore

/// One immutable version of a collection's durable state: the live segments
/// (in version order: a later segment's rows win over an earlier one's) and
/// the highest WAL sequence they contain. Version v+1 is created only if it
/// does not exist yet, so the history is a single chain.
public struct Manifest: Sendable, Equatable {
    public struct Segment: Sendable, Equatable {
        public var id: String
        public var rows: Int
        /// Rows that are tombstones (deletes of ids older segments may hold).
        public var tombstones: Int
        public var bytes: Int
        public var crc32c: UInt32
        public var minVersion: Int64
        public var maxVersion: Int64
        /// Earliest expiry among its records (nil: none expire), for TTL compaction.
        public var earliestExpiry: Int64?
        /// Its ANN index file, when it has one.
        public var index: IndexFile?
        /// A graph index's cold route: an IVF file over the same nodes, its
        /// lists drawn from the graph, searched by ranged reads where the
        /// graph is not at hand (nil: none, or the index is not a graph).
        public var route: IndexFile?
        /// Where the data file's row columns (all but the vectors) and footer
        /// begin: from there to its end is one range, what a reader that takes
        /// vectors by range reads to open it (nil in files from before).
        public var rowsOffset: Int?

        public init(
            id: String, rows: Int, tombstones: Int, bytes: Int, crc32c: UInt32, minVersion: Int64, maxVersion: Int64,
            earliestExpiry: Int64?, index: IndexFile?, rowsOffset: Int? = nil, route: IndexFile? = nil
        ) {
            self.rowsOffset = rowsOffset
            self.route = route
            self.id = id
            self.rows = rows
            self.tombstones = tombstones
            self.bytes = bytes
            self.crc32c = crc32c
            self.minVersion = minVersion
            self.maxVersion = maxVersion
            self.earliestExpiry = earliestExpiry
            self.index = index
        }
    }

    public struct IndexFile: Sendable, Equatable {
        public var kind: String
        public var bytes: Int
        public var crc32c: UInt32

        public init(kind: String, bytes: Int, crc32c: UInt32) {
            self.kind = kind
            self.bytes = bytes
            self.crc32c = crc32c
        }

        var json: JSONValue { .object(["kind": .string(kind), "bytes": .int(Int64(bytes)), "crc32c": .int(Int64(crc32c))]) }

        init(json i: JSONValue) throws(FormatError) {
            guard let kind = i["kind"]?.string, let b = i["bytes"]?.integer, let c = i["crc32c"]?.integer, let crc = UInt32(exactly: c)
            else { throw FormatError("manifest: bad index entry") }
            self.init(kind: kind, bytes: Int(b), crc32c: crc)
        }
    }

    /// What produced a version, for operators and `?wait=true` answers.
    public struct Job: Sendable, Equatable {
        public var id: String
        public var kind: String
        public var details: [String: JSONValue]

        public init(id: String, kind: String, details: [String: JSONValue]) {
            self.id = id
            self.kind = kind
            self.details = details
        }
    }

    public var version: Int64
    public var walThrough: Int64
    public var createdAt: Int64
    public var segments: [Segment]
    public var job: Job?

    public init(version: Int64, walThrough: Int64, createdAt: Int64, segments: [Segment], job: Job?) {
        self.version = version
        self.walThrough = walThrough
        self.createdAt = createdAt
        self.segments = segments
        self.job = job
    }

    /// The state of a collection nothing has been flushed for.
    public static let empty = Manifest(version: 0, walThrough: 0, createdAt: 0, segments: [], job: nil)

    // MARK: encoding

    /// JSON, then a line with the CRC-32C of the JSON bytes.
    public func encode() -> [UInt8] {
        let segs: [JSONValue] = segments.map { s in
            var o: [String: JSONValue] = [
                "id": .string(s.id), "rows": .int(Int64(s.rows)), "tombstones": .int(Int64(s.tombstones)),
                "bytes": .int(Int64(s.bytes)), "crc32c": .int(Int64(s.crc32c)), "min_version": .int(s.minVersion),
                "max_version": .int(s.maxVersion),
            ]
            if let e = s.earliestExpiry { o["earliest_expiry"] = .int(e) }
            if let r = s.rowsOffset { o["rows_offset"] = .int(Int64(r)) }
            if let i = s.index { o["index"] = i.json }
            if let r = s.route { o["route"] = r.json }
            return .object(o)
        }
        var o: [String: JSONValue] = [
            "format": "proximadb.manifest.v1", "version": .int(version), "wal_through": .int(walThrough),
            "created_at": .int(createdAt), "segments": .array(segs),
        ]
        if let job { o["job"] = .object(["id": .string(job.id), "kind": .string(job.kind), "details": .object(job.details)]) }
        var bytes = JSONWriter.encode(.object(o))
        bytes += Array("\ncrc32c:\(CRC32C.checksum(bytes))\n".utf8)
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> Manifest {
        guard let split = bytes.lastIndex(of: UInt8(ascii: "\n"), before: bytes.count - 1) else {
            throw FormatError("manifest: no checksum line")
        }
        let body = Array(bytes[..<split])
        let trailer = String(decoding: bytes[(split + 1)...], as: UTF8.self)
        guard trailer.hasPrefix("crc32c:"), trailer.hasSuffix("\n"), let crc = UInt32(trailer.dropFirst(7).dropLast()),
            crc == CRC32C.checksum(body)
        else { throw FormatError("manifest: checksum mismatch") }
        guard case .object(let o) = try? JSONParser.parse(body), o["format"] == "proximadb.manifest.v1",
            let version = o["version"]?.integer, let walThrough = o["wal_through"]?.integer,
            let createdAt = o["created_at"]?.integer, let segs = o["segments"]?.array
        else { throw FormatError("manifest: missing fields") }
        var segments: [Segment] = []
        for s in segs {
            guard let id = s["id"]?.string, let rows = s["rows"]?.integer, let tombstones = s["tombstones"]?.integer,
                let size = s["bytes"]?.integer, let crc = s["crc32c"]?.integer, let crc32 = UInt32(exactly: crc),
                let minV = s["min_version"]?.integer, let maxV = s["max_version"]?.integer
            else { throw FormatError("manifest: bad segment entry") }
            let index = try s["index"].map { i throws(FormatError) in try IndexFile(json: i) }
            let route = try s["route"].map { r throws(FormatError) in try IndexFile(json: r) }
            segments.append(
                Segment(
                    id: id, rows: Int(rows), tombstones: Int(tombstones), bytes: Int(size), crc32c: crc32, minVersion: minV,
                    maxVersion: maxV, earliestExpiry: s["earliest_expiry"]?.integer, index: index,
                    rowsOffset: s["rows_offset"]?.integer.flatMap { $0 >= 0 && $0 <= size ? Int($0) : nil }, route: route))
        }
        var job: Job?
        if let j = o["job"], let id = j["id"]?.string, let kind = j["kind"]?.string {
            job = Job(id: id, kind: kind, details: j["details"]?.object ?? [:])
        }
        return Manifest(version: version, walThrough: walThrough, createdAt: createdAt, segments: segments, job: job)
    }
}

extension Array where Element == UInt8 {
    fileprivate func lastIndex(of byte: UInt8, before end: Int) -> Int? {
        var i = end - 1
        while i >= 0 {
            if self[i] == byte { return i }
            i -= 1
        }
        return nil
    }
}
