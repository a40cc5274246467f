import ProximaCore

/// One row of a segment: a record, or a tombstone saying the id was deleted
/// at `record.version` (it hides older versions in older segments).
public struct SegmentRow: Sendable, Equatable {
    public var record: VectorRecord
    public var deleted: Bool
    public init(record: VectorRecord, deleted: Bool) {
        self.record = record
        self.deleted = deleted
    }

    /// The tombstone that hides older versions of `record`'s id from `record.version` on.
    public static func tombstone(of record: VectorRecord) -> SegmentRow {
        SegmentRow(record: VectorRecord(id: record.id, vector: [], timestamp: record.timestamp, version: record.version), deleted: true)
    }
}

/// A segment's data file (the seed's VIPER layout) as Parquet: `id`,
/// `vector` (list<float>, empty for tombstones), one typed column per
/// filterable field, `extra_meta` (the rest of the metadata as JSON),
/// `timestamp`, `expires_at`, `version`, `deleted`. pyarrow and DuckDB read it
/// as it is; the footer's `proximadb.segment` entry says which column holds
/// which field, so decoding never depends on the collection's current config.
///
/// Live rows come first and tombstones last, and the `vector` column is
/// stored uncompressed, so live row r's floats sit at a computable offset
/// (`VectorLayout`, from the footer's `vector_pages`): the segment is the one
/// copy of its vectors, read by range for rerank.
public enum SegmentCodec {
    static let fixedColumns: Set<String> = ["id", "vector", "extra_meta", "timestamp", "expires_at", "version", "deleted"]
    public static let formatVersion = 1

    /// The column a filterable field is stored in: its own name unless that
    /// is one of the fixed columns.
    public static func columnName(forField name: String) -> String {
        fixedColumns.contains(name) || name.hasPrefix("meta_") ? "meta_" + name : name
    }

    public static func encode(
        _ rows: [SegmentRow], dimension: Int, fields: [CollectionConfig.FilterableField], info: [String: JSONValue] = [:],
        options: ParquetWriter.Options = ParquetWriter.Options()
    ) throws(FormatError) -> [UInt8] {
        var ids: [String?] = []
        var vectors: [Float] = []
        var offsets = [0]
        var extra: [String?] = []
        var timestamps: [Int64?] = [], expires: [Int64?] = [], versions: [Int64?] = [], deleted: [Bool?] = []
        var typed = [[JSONValue?]](repeating: [], count: fields.count)
        ids.reserveCapacity(rows.count)
        vectors.reserveCapacity(rows.count * dimension)
        let rows = rows.filter { !$0.deleted } + rows.filter(\.deleted)
        for row in rows {
            let r = row.record
            guard row.deleted || r.vector.count == dimension else {
                throw FormatError("record \(r.id) has \(r.vector.count) dimensions, the segment \(dimension)")
            }
            ids.append(r.id)
            if !row.deleted { vectors += r.vector }
            offsets.append(vectors.count)
            var rest = r.metadata
            for (i, f) in fields.enumerated() {
                if let v = rest[f.name], Self.fits(v, f.type) {
                    typed[i].append(v)
                    rest[f.name] = nil
                } else {
                    typed[i].append(nil)
                }
            }
            extra.append(rest.isEmpty ? nil : JSONWriter.string(.object(rest)))
            timestamps.append(r.timestamp)
            expires.append(r.expiresAt)
            versions.append(r.version)
            deleted.append(row.deleted)
        }
        var columns = [
            ParquetColumn("id", .string(ids), required: true),
            ParquetColumn("vector", .floatList(values: vectors, offsets: offsets), required: true, compressed: false),
        ]
        var described: [JSONValue] = []
        for (i, f) in fields.enumerated() {
            let name = columnName(forField: f.name)
            described.append(.object(["field": .string(f.name), "column": .string(name), "type": .string(f.type.rawValue)]))
            let values = typed[i]
            let data: ParquetColumnData =
                switch f.type {
                case .string: .string(values.map { $0?.string })
                case .integer, .timestamp: .int64(values.map { $0?.integer })
                case .float: .double(values.map { $0?.number })
                case .boolean: .boolean(values.map { $0?.bool })
                }
            columns.append(ParquetColumn(name, data))
        }
        columns += [
            ParquetColumn("extra_meta", .string(extra), annotation: .json),
            ParquetColumn("timestamp", .int64(timestamps), required: true, annotation: .timestampMicros),
            ParquetColumn("expires_at", .int64(expires), annotation: .timestampMicros),
            ParquetColumn("version", .int64(versions), required: true),
            ParquetColumn("deleted", .boolean(deleted), required: true),
        ]
        var meta = info
        meta["format_version"] = .int(Int64(formatVersion))
        meta["dimension"] = .int(Int64(dimension))
        meta["fields"] = .array(described)
        meta["rows"] = .int(Int64(rows.count))
        meta["live_rows"] = .int(Int64(rows.count { !$0.deleted }))
        // Vectors first (every row group's), so the row columns and the footer are the file's last range.
        var options = options
        options.leadingColumns = ["vector"]
        do {
            return try ParquetWriter.write(columns, options: options) { pages in
                var m = meta
                m["vector_pages"] = .array((pages["vector"] ?? []).map { .array([.int(Int64($0.firstRow)), .int(Int64($0.offset))]) })
                return [("proximadb.segment", JSONWriter.string(.object(m)))]
            }
        } catch { throw FormatError("segment: \(error)") }
    }

    /// Values kept in a typed column are those whose JSON kind is the field's
    /// own; anything else (null, a string in an integer field) stays in
    /// `extra_meta`, so metadata reads back exactly as written.
    static func fits(_ v: JSONValue, _ type: CollectionConfig.FieldType) -> Bool {
        switch (type, v) {
        case (.string, .string), (.integer, .int), (.timestamp, .int), (.float, .double), (.boolean, .bool): true
        default: false
        }
    }

    public struct Decoded: Sendable {
        public var rows: [SegmentRow]
        public var info: [String: JSONValue]
    }

    /// Decodes a segment; with `checksum` (the CRC-32C its manifest entry
    /// records) the whole object is verified first, footer included, which
    /// Parquet's page checksums alone do not cover.
    public static func decode(_ bytes: [UInt8], checksum: UInt32? = nil) throws(FormatError) -> Decoded {
        if let checksum, CRC32C.checksum(bytes) != checksum {
            throw FormatError("segment checksum mismatch (CRC-32C \(CRC32C.checksum(bytes)), expected \(checksum))")
        }
        let file: ParquetFile
        do { file = try ParquetFile(bytes: bytes) } catch { throw FormatError("segment: \(error)") }
        return try decode(file) { _, _ in (bytes, 0) }
    }

    /// The footer's `proximadb.segment` entry, checked for this format version.
    public static func info(_ file: ParquetFile) throws(FormatError) -> [String: JSONValue] {
        guard let text = file.keyValueMetadata["proximadb.segment"], case .object(let info) = try? JSONParser.parse(text),
            info["format_version"]?.integer == Int64(formatVersion), let dimension = info["dimension"]?.integer, dimension > 0
        else { throw FormatError("not a ProximaDB segment (format_version \(formatVersion))") }
        return info
    }

    /// Where the row columns begin when they (and the footer) follow every
    /// vector chunk, as `encode` writes them: the start of the file's last
    /// range, all a reader taking vectors by range needs. Nil otherwise.
    public static func rowColumnsOffset(_ file: ParquetFile) throws(FormatError) -> Int? {
        var rowsStart = Int.max, vectorsEnd = 0
        for column in file.columns.map(\.name) {
            for range in try file.chunkRanges(column) {
                if column == "vector" { vectorsEnd = max(vectorsEnd, range.upperBound) } else { rowsStart = min(rowsStart, range.lowerBound) }
            }
        }
        return rowsStart != .max && vectorsEnd <= rowsStart ? rowsStart : nil
    }

    /// The columns a segment's rows are decoded from, the vectors aside:
    /// what a reader that takes vectors by range (`VectorLayout`) reads.
    public static func rowColumns(_ file: ParquetFile) throws(FormatError) -> [String] {
        let fields = try info(file)["fields"]?.array ?? []
        return ["id", "extra_meta", "timestamp", "expires_at", "version", "deleted"] + fields.compactMap { $0["column"]?.string }
    }

    /// A segment's rows column by column, their vectors aside: what a reader
    /// that takes vectors by range keeps of them (no row is built).
    public struct RowColumns: Sendable {
        public var ids: PackedStrings
        public var metadata: [[String: JSONValue]]
        public var timestamps: [Int64]
        /// `Int64.max` where the record never expires.
        public var expiresAt: [Int64]
        public var versions: [Int64]
        public var deleted: Bitset
        public var count: Int { ids.count }

        /// The columns of `rows` (their vectors left out).
        public init(_ rows: [SegmentRow]) {
            ids = PackedStrings(rows.lazy.map(\.record.id))
            metadata = rows.map(\.record.metadata)
            timestamps = rows.map(\.record.timestamp)
            expiresAt = rows.map { $0.record.expiresAt ?? .max }
            versions = rows.map(\.record.version)
            deleted = Bitset(count: rows.count)
            for (r, row) in rows.enumerated() where row.deleted { deleted[r] = true }
        }

        init(ids: PackedStrings, metadata: [[String: JSONValue]], timestamps: [Int64], expiresAt: [Int64], versions: [Int64], deleted: Bitset) {
            (self.ids, self.metadata, self.timestamps, self.expiresAt, self.versions, self.deleted) = (ids, metadata, timestamps, expiresAt, versions, deleted)
        }
    }

    /// Decodes a segment's row columns from its footer and the column chunks
    /// `chunk` gives (see `ParquetFile.column(_:chunk:)`), checking that live
    /// rows come before tombstones, as a reader of vectors by range needs.
    public static func decodeRowColumns(
        _ file: ParquetFile, chunk: (Int, Range<Int>) throws -> (bytes: [UInt8], base: Int)
    ) throws(FormatError) -> RowColumns {
        try decodeRowColumns(file, liveFirst: true, chunk: chunk).columns
    }

    private static func decodeRowColumns(
        _ file: ParquetFile, liveFirst: Bool, chunk: (Int, Range<Int>) throws -> (bytes: [UInt8], base: Int)
    ) throws(FormatError) -> (columns: RowColumns, info: [String: JSONValue]) {
        do {
            let info = try info(file)
            // Packed ids and dense integers: no String and no optional per row (a million-row open spent most of its time there).
            let ids = try file.packedStrings("id", chunk: chunk)
            let extra = try file.packedStrings("extra_meta", chunk: chunk)
            let (timestamps, missingTimestamps) = try file.int64s("timestamp", null: 0, chunk: chunk)
            let (expires, _) = try file.int64s("expires_at", null: .max, chunk: chunk)
            let (versions, missingVersions) = try file.int64s("version", null: 0, chunk: chunk)
            guard case .boolean(let deletedColumn) = try file.column("deleted", chunk: chunk) else {
                throw FormatError("segment columns have unexpected types")
            }
            let n = file.rowCount
            guard ids.count == n, extra.count == n, timestamps.count == n, expires.count == n, versions.count == n, deletedColumn.count == n
            else { throw FormatError("segment columns disagree on the row count") }
            guard missingTimestamps == 0, missingVersions == 0, !deletedColumn.contains(nil), !(0..<n).contains(where: ids.isNull)
            else { throw FormatError("a required value (id, timestamp, version, deleted) is missing") }
            var typed: [(String, ParquetColumnData)] = []
            for f in info["fields"]?.array ?? [] {
                guard let field = f["field"]?.string, let column = f["column"]?.string else { throw FormatError("bad field entry") }
                let data = try file.column(column, chunk: chunk)
                guard data.rowCount == n else { throw FormatError("field column \(column) has the wrong row count") }
                typed.append((field, data))
            }
            var deleted = Bitset(count: n)
            var sawTombstone = false
            for i in 0..<n {
                // Live rows first: a vector's offset is computed from its row.
                if deletedColumn[i] == true {
                    deleted[i] = true
                    sawTombstone = true
                } else if sawTombstone, liveFirst {
                    throw FormatError("live row \(i) after a tombstone")
                }
            }
            // Metadata: the typed columns merged over `extra_meta`'s JSON; rows with none share one empty dictionary.
            var metadata = [[String: JSONValue]](repeating: [:], count: n)
            for i in 0..<n where !extra.isNull(i) {
                guard case .object(let o) = try? JSONParser.parse(extra[i]) else { throw FormatError("extra_meta of row \(i) is not an object") }
                metadata[i] = o
            }
            for (field, data) in typed {
                switch data {
                case .string(let v): for i in 0..<n { if let x = v[i] { metadata[i][field] = .string(x) } }
                case .int64(let v): for i in 0..<n { if let x = v[i] { metadata[i][field] = .int(x) } }
                case .double(let v): for i in 0..<n { if let x = v[i] { metadata[i][field] = .double(x) } }
                case .boolean(let v): for i in 0..<n { if let x = v[i] { metadata[i][field] = .bool(x) } }
                case .floatList: throw FormatError("field \(field) is stored as a list")
                }
            }
            let columns = RowColumns(ids: ids, metadata: metadata, timestamps: timestamps, expiresAt: expires, versions: versions, deleted: deleted)
            return (columns, info)
        } catch let e as FormatError {
            throw e
        } catch {
            throw FormatError("segment: \(error)")
        }
    }

    /// Decodes a segment, rows with their vectors, from its footer and the
    /// column chunks `chunk` gives (see `ParquetFile.column(_:chunk:)`).
    public static func decode(
        _ file: ParquetFile, chunk: (Int, Range<Int>) throws -> (bytes: [UInt8], base: Int)
    ) throws(FormatError) -> Decoded {
        let (columns, info) = try decodeRowColumns(file, liveFirst: false, chunk: chunk)
        let dim = Int(info["dimension"]?.integer ?? 0)
        let vectors: [Float], offsets: [Int]
        do {
            guard case .floatList(let v, let o) = try file.column("vector", chunk: chunk) else {
                throw FormatError("segment columns have unexpected types")
            }
            (vectors, offsets) = (v, o)
        } catch let e as FormatError {
            throw e
        } catch {
            throw FormatError("segment: \(error)")
        }
        let n = columns.count
        guard offsets.count == n + 1 else { throw FormatError("segment columns disagree on the row count") }
        var rows: [SegmentRow] = []
        rows.reserveCapacity(n)
        for i in 0..<n {
            let del = columns.deleted[i]
            let count = offsets[i + 1] - offsets[i]
            guard count == (del ? 0 : dim) else { throw FormatError("row \(i) has \(count) dimensions") }
            let expires = columns.expiresAt[i]
            let record = VectorRecord(
                id: columns.ids[i], vector: Array(vectors[offsets[i]..<offsets[i + 1]]), metadata: columns.metadata[i],
                timestamp: columns.timestamps[i], expiresAt: expires == .max ? nil : expires, version: columns.versions[i])
            rows.append(SegmentRow(record: record, deleted: del))
        }
        return Decoded(rows: rows, info: info)
    }

    /// Where each live row's vector sits in a segment file written by
    /// `encode` (nil for files from before, whose vectors are compressed).
    public struct VectorLayout: Sendable, Equatable {
        public let dimension: Int
        public let liveRows: Int
        /// (first row, file offset of its first float), by first row.
        let pages: [(firstRow: Int, offset: Int)]

        public static func == (a: Self, b: Self) -> Bool {
            a.dimension == b.dimension && a.liveRows == b.liveRows && a.pages.elementsEqual(b.pages) { $0 == $1 }
        }

        /// From the footer's `proximadb.segment` entry.
        public init?(info: [String: JSONValue]) {
            guard let dimension = info["dimension"]?.integer, dimension > 0, let live = info["live_rows"]?.integer,
                let entries = info["vector_pages"]?.array
            else { return nil }
            var pages: [(Int, Int)] = []
            for e in entries {
                guard let pair = e.array, pair.count == 2, let row = pair[0].integer, let offset = pair[1].integer, row >= 0, offset >= 0,
                    row >= (pages.last?.0 ?? 0)
                else { return nil }
                pages.append((Int(row), Int(offset)))
            }
            guard pages.first?.0 == 0 || (live == 0 && pages.isEmpty) else { return nil }
            (self.dimension, self.liveRows, self.pages) = (Int(dimension), Int(live), pages)
        }

        /// The byte range of live row `row`'s float32 values.
        public func range(ofRow row: Int) -> Range<Int>? {
            guard row >= 0, row < liveRows else { return nil }
            var lo = 0, hi = pages.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if pages[mid].firstRow <= row { lo = mid } else { hi = mid - 1 }
            }
            let start = pages[lo].offset + (row - pages[lo].firstRow) * dimension * 4
            return start..<(start + dimension * 4)
        }
    }
}
