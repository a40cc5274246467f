import ProximaCore

/// Reads the Parquet files `ParquetWriter` writes (and others of the same
/// shapes: PLAIN values, RLE levels, uncompressed or zstd v1 data pages).
/// Every page's CRC-32 is checked when present; anything unexpected is a
/// `FormatError`, never data.
public struct ParquetFile: Sendable {
    public struct Column: Sendable {
        public var name: String
        public var physicalType: Int32
        public var required: Bool
        public var isList: Bool
    }

    public struct Chunk: Sendable {
        public var dataPageOffset: Int
        public var compressedSize: Int
        public var levelCount: Int
        public var codec: Int32
        public var statistics: ParquetStatistics?
    }

    public struct RowGroup: Sendable {
        public var rows: Int
        public var chunks: [Chunk]
    }

    /// The whole file, or empty when opened from its tail (`init(tail:fileSize:)`):
    /// then columns are decoded from chunk bytes the caller reads by range.
    public let bytes: [UInt8]
    public let fileSize: Int
    public let rowCount: Int
    public let columns: [Column]
    public let rowGroups: [RowGroup]
    public let keyValueMetadata: [String: String]

    public init(bytes: [UInt8]) throws(FormatError) {
        self.bytes = bytes
        fileSize = bytes.count
        (columns, rowCount, rowGroups, keyValueMetadata) = try Self.footer(tail: bytes, fileSize: bytes.count)
    }

    /// Opens a file from its last bytes (at least `footerBytes(tail:)` of
    /// them), for reading columns by range: nothing before the footer is needed.
    public init(tail: [UInt8], fileSize: Int) throws(FormatError) {
        bytes = []
        self.fileSize = fileSize
        (columns, rowCount, rowGroups, keyValueMetadata) = try Self.footer(tail: tail, fileSize: fileSize)
    }

    /// How many of the file's last bytes hold its footer (length and magic
    /// included), from at least its last 8 bytes.
    public static func footerBytes(tail: [UInt8], fileSize: Int) throws(FormatError) -> Int {
        let n = tail.count
        guard n >= 8, fileSize >= 12, Array(tail[(n - 4)...]) == ParquetCode.magic else {
            throw FormatError("parquet: not a Parquet file (magic bytes missing)")
        }
        let footerLength = Int(tail.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: n - 8, as: UInt32.self).littleEndian })
        guard footerLength <= fileSize - 12 else { throw FormatError("parquet: footer length \(footerLength) exceeds the file") }
        return footerLength + 8
    }

    private static func footer(tail: [UInt8], fileSize: Int) throws(FormatError) -> ([Column], Int, [RowGroup], [String: String]) {
        let n = tail.count
        if n == fileSize {
            guard n >= 12, Array(tail[0..<4]) == ParquetCode.magic else { throw FormatError("parquet: not a Parquet file (magic bytes missing)") }
        }
        let needed = try footerBytes(tail: tail, fileSize: fileSize)
        guard needed <= n else { throw FormatError("parquet: the footer needs the last \(needed) bytes, \(n) given") }
        let footer: [Int16: ThriftValue]
        do {
            footer = try tail.withUnsafeBytes { raw throws(FormatError) in
                var r = ThriftReader(UnsafeRawBufferPointer(rebasing: raw[..<(n - 8)]), offset: n - needed)
                return try r.readStruct()
            }
        } catch { throw FormatError("parquet: footer: \(error)") }
        return try parseFooter(footer)
    }

    private static func parseFooter(
        _ f: [Int16: ThriftValue]
    ) throws(FormatError) -> ([Column], Int, [RowGroup], [String: String]) {
        guard let schema = f[2]?.list?.compactMap(\.fields), let rows = f[3]?.int, let groups = f[4]?.list else {
            throw FormatError("parquet: footer lacks schema, row count or row groups")
        }
        var columns: [Column] = []
        var i = 1
        while i < schema.count {
            let e = schema[i]
            let name = e[4]?.string ?? ""
            let required = e[3]?.int == Int64(ParquetCode.required)
            if let children = e[5]?.int, children > 0 {
                // Only LIST<required primitive> groups: group -> repeated "list" -> element.
                guard children == 1, i + 2 < schema.count, schema[i + 1][3]?.int == Int64(ParquetCode.repeated),
                    schema[i + 1][5]?.int == 1, let type = schema[i + 2][1]?.int
                else { throw FormatError("parquet: column \(name): unsupported nested shape") }
                columns.append(Column(name: name, physicalType: Int32(clamping: type), required: required, isList: true))
                i += 3
            } else {
                guard let type = e[1]?.int else { throw FormatError("parquet: column \(name) has no type") }
                columns.append(Column(name: name, physicalType: Int32(clamping: type), required: required, isList: false))
                i += 1
            }
        }
        var rowGroups: [RowGroup] = []
        for g in groups {
            guard let gf = g.fields, let gRows = gf[3]?.int, let chunks = gf[1]?.list, chunks.count == columns.count else {
                throw FormatError("parquet: row group does not match the schema")
            }
            var out: [Chunk] = []
            for (ci, c) in chunks.enumerated() {
                guard let m = c.fields?[3]?.fields, let offset = m[9]?.int, let size = m[7]?.int, let values = m[5]?.int,
                    let codec = m[4]?.int
                else { throw FormatError("parquet: column chunk lacks its metadata") }
                var stats: ParquetStatistics?
                if let s = m[12]?.fields {
                    let type = columns[ci].physicalType
                    stats = ParquetStatistics(
                        min: s[6]?.binary.flatMap { bound($0, type) }, max: s[5]?.binary.flatMap { bound($0, type) },
                        nullCount: s[3]?.int ?? 0)
                }
                out.append(
                    Chunk(
                        dataPageOffset: Int(offset), compressedSize: Int(size), levelCount: Int(values), codec: Int32(clamping: codec),
                        statistics: stats))
            }
            rowGroups.append(RowGroup(rows: Int(gRows), chunks: out))
        }
        var kv: [String: String] = [:]
        for item in f[5]?.list ?? [] {
            if let fields = item.fields, let k = fields[1]?.string { kv[k] = fields[2]?.string ?? "" }
        }
        return (columns, Int(rows), rowGroups, kv)
    }

    private static func bound(_ b: [UInt8], _ type: Int32) -> ParquetStatistics.Bound? {
        switch type {
        case ParquetCode.int64 where b.count == 8:
            .int(b.withUnsafeBytes { $0.loadUnaligned(as: Int64.self).littleEndian })
        case ParquetCode.double where b.count == 8:
            .double(Double(bitPattern: b.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian }))
        case ParquetCode.byteArray: .string(b)
        default: nil
        }
    }

    public func columnIndex(_ name: String) -> Int? { columns.firstIndex { $0.name == name } }

    /// A whole column, every row group concatenated.
    public func column(_ name: String) throws(FormatError) -> ParquetColumnData {
        guard !bytes.isEmpty || fileSize == 0 else { throw FormatError("parquet: opened from its tail: read columns by range") }
        return try column(name) { _, _ in (bytes, 0) }
    }

    /// The byte range of column `name`'s chunk in each row group, for reading by range.
    public func chunkRanges(_ name: String) throws(FormatError) -> [Range<Int>] {
        guard let ci = columnIndex(name) else { throw FormatError("parquet: no column \(name)") }
        return try rowGroups.map { g throws(FormatError) in
            let c = g.chunks[ci]
            let (end, overflow) = c.dataPageOffset.addingReportingOverflow(c.compressedSize)
            guard !overflow, c.dataPageOffset >= 4, c.compressedSize >= 0, end <= fileSize - 8 else {
                throw FormatError("parquet: column chunk of \(name) lies outside the file")
            }
            return c.dataPageOffset..<end
        }
    }

    /// A whole column from bytes the caller holds: `chunk(rowGroup, range)`
    /// gives bytes covering that chunk's range and the file offset of their first byte.
    public func column(_ name: String, chunk: (Int, Range<Int>) throws -> (bytes: [UInt8], base: Int)) throws(FormatError) -> ParquetColumnData {
        try decode(name, .values, chunk: chunk).finish()
    }

    /// A byte-array column, packed (no String per value), from bytes the caller holds (as `column`).
    public func packedStrings(_ name: String, chunk: (Int, Range<Int>) throws -> (bytes: [UInt8], base: Int)) throws(FormatError) -> PackedStrings {
        let decoder = try decode(name, .packed, chunk: chunk)
        guard decoder.column.physicalType == ParquetCode.byteArray else { throw FormatError("parquet: column \(name) holds no byte arrays") }
        return decoder.packed
    }

    /// An int64 column without optionals (`null` where a value is null) and
    /// how many values were null, from bytes the caller holds (as `column`).
    public func int64s(_ name: String, null: Int64, chunk: (Int, Range<Int>) throws -> (bytes: [UInt8], base: Int)) throws(FormatError) -> (values: [Int64], nulls: Int) {
        let decoder = try decode(name, .dense(null: null), chunk: chunk)
        guard decoder.column.physicalType == ParquetCode.int64 else { throw FormatError("parquet: column \(name) holds no int64 values") }
        return (decoder.dense, decoder.nulls)
    }

    private func decode(_ name: String, _ shape: ColumnDecoder.Shape, chunk: (Int, Range<Int>) throws -> (bytes: [UInt8], base: Int)) throws(FormatError) -> ColumnDecoder {
        guard let ci = columnIndex(name) else { throw FormatError("parquet: no column \(name)") }
        let c = columns[ci]
        let ranges = try chunkRanges(name)
        // Counts come from the file: reserve no more than its bytes could hold.
        let levels = rowGroups.reduce(0) { $0 &+ max(0, $1.chunks[ci].levelCount) }
        let bytes = ranges.reduce(0) { $0 + $1.count }
        var decoder = ColumnDecoder(column: c, shape: shape, rows: min(max(0, rowCount), fileSize), levels: min(max(0, levels), fileSize), bytes: bytes)
        for (g, range) in ranges.enumerated() {
            let held: (bytes: [UInt8], base: Int)
            do { held = try chunk(g, range) } catch { throw FormatError("parquet: column \(name): \(error)") }
            guard held.base <= range.lowerBound, range.upperBound <= held.base + held.bytes.count else {
                throw FormatError("parquet: column \(name): the bytes given do not cover its chunk")
            }
            try decoder.readChunk(rowGroups[g].chunks[ci], range: range, file: held.bytes, base: held.base)
        }
        return decoder
    }
}

/// Accumulates one column's values page by page.
private struct ColumnDecoder {
    /// What values are decoded into: optionals (`ParquetColumnData`), or for
    /// the columns a cold open reads, packed byte arrays or dense int64s.
    enum Shape {
        case values, packed
        case dense(null: Int64)
    }

    let column: ParquetFile.Column
    let shape: Shape
    var packed = PackedStrings()
    var dense: [Int64] = []
    var nulls = 0
    var ints: [Int64?] = []
    var doubles: [Double?] = []
    var bools: [Bool?] = []
    var strings: [String?] = []
    var floats: [Float] = []
    var offsets: [Int] = [0]

    /// Capacity is reserved once for the whole column (reserving per page would copy it on every page).
    init(column: ParquetFile.Column, shape: Shape, rows: Int, levels: Int, bytes: Int) {
        self.column = column
        self.shape = shape
        if column.isList {
            offsets.reserveCapacity(rows + 1)
            floats.reserveCapacity(min(levels, 1 << 31))
            return
        }
        // Grown by appending, a million-row column was copied a dozen times (and its new pages faulted in each time).
        let expected = min(rows, 1 << 27)
        switch shape {
        case .packed: packed.reserve(values: expected, bytes: bytes)
        case .dense: dense.reserveCapacity(expected)
        case .values: break
        }
        guard case .values = shape else { return }
        switch column.physicalType {
        case ParquetCode.int64: ints.reserveCapacity(expected)
        case ParquetCode.double: doubles.reserveCapacity(expected)
        case ParquetCode.byteArray: strings.reserveCapacity(expected)
        default: bools.reserveCapacity(expected)
        }
    }

    /// `file` holds the chunk's `range` from file offset `base` on.
    mutating func readChunk(_ chunk: ParquetFile.Chunk, range: Range<Int>, file: [UInt8], base: Int) throws(FormatError) {
        var offset = range.lowerBound - base
        let end = range.upperBound - base
        var levelsRead = 0
        while levelsRead < chunk.levelCount {
            guard offset < end else { throw FormatError("parquet: column \(column.name): pages end early") }
            let header: [Int16: ThriftValue]
            do {
                header = try file.withUnsafeBytes { raw throws(FormatError) in
                    var r = ThriftReader(UnsafeRawBufferPointer(rebasing: raw[..<end]), offset: offset)
                    let h = try r.readStruct()
                    offset = r.offset
                    return h
                }
            } catch { throw FormatError("parquet: page header of \(column.name): \(error)") }
            guard header[1]?.int == Int64(ParquetCode.dataPage), let rawSize = header[2]?.int, let storedSize = header[3]?.int,
                let data = header[5]?.fields, let count = data[1]?.int, data[2]?.int == Int64(ParquetCode.plain),
                storedSize >= 0, rawSize >= 0, storedSize <= end - offset, count > 0,
                // Bounds on what a damaged footer could make us allocate: 2 GiB of page, 2^27 levels
                // (run-length levels of nulls and empty lists can be far more than the page's bytes),
                // and required plain values of a bit at least (booleans).
                rawSize <= Int64(Int32.max), count <= 1 << 27,
                column.isList || !column.required || count <= rawSize * 8 + 8
            else { throw FormatError("parquet: column \(column.name): unsupported or damaged page header") }
            let stored = file[offset..<(offset + Int(storedSize))]
            offset += Int(storedSize)
            if let crc = header[4]?.int {
                let actual = stored.withUnsafeBytes { CRC32.checksum($0) }
                guard Int32(truncatingIfNeeded: crc) == Int32(bitPattern: actual) else {
                    throw FormatError("parquet: column \(column.name): page checksum mismatch")
                }
            }
            let body: [UInt8]
            switch chunk.codec {
            case ParquetCode.uncompressed: body = Array(stored)
            case ParquetCode.zstd:
                do {
                    body = try stored.withUnsafeBytes { raw throws(FormatError) in try Zstd.decompress(raw, expectedSize: Int(rawSize)) }
                } catch { throw FormatError("parquet: column \(column.name): \(error)") }
            default: throw FormatError("parquet: column \(column.name): codec \(chunk.codec) is not supported")
            }
            try decodePage(body, levelCount: Int(count))
            levelsRead += Int(count)
        }
    }

    private mutating func decodePage(_ body: [UInt8], levelCount: Int) throws(FormatError) {
        var p = 0
        func levels() throws(FormatError) -> [UInt8] {
            guard p + 4 <= body.count else { throw FormatError("parquet: levels truncated") }
            let n = Int(body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p, as: UInt32.self).littleEndian })
            p += 4
            guard n <= body.count - p else { throw FormatError("parquet: levels truncated") }
            defer { p += n }
            return try LevelCoding.decode(body[p..<(p + n)], count: levelCount)
        }
        if column.isList {
            let rep = try levels()
            let def = try levels()
            let present = def.reduce(0) { $0 + Int($1) }
            guard column.physicalType == ParquetCode.float, present * 4 == body.count - p else {
                throw FormatError("parquet: column \(column.name): list values do not match their levels")
            }
            guard rep.first == 0 || rep.isEmpty else { throw FormatError("parquet: page starts inside a list") }
            body.withUnsafeBytes { raw in
                let f = UnsafeRawBufferPointer(rebasing: raw[p...]).bindMemory(to: Float.self)
                floats.append(contentsOf: f)
            }
            var total = offsets[offsets.count - 1]
            for i in 0..<levelCount {
                if rep[i] == 0 && i > 0 { offsets.append(total) }
                total += Int(def[i])
            }
            if levelCount > 0 { offsets.append(total) }
            return
        }
        let def: [UInt8] = column.required ? [UInt8](repeating: 1, count: levelCount) : try levels()
        var reader = PlainReader(body: body, offset: p)
        if case .packed = shape, column.physicalType == ParquetCode.byteArray {
            var at = p
            let failure: FormatError? = body.withUnsafeBytes { page in
                do throws(FormatError) {
                    try packed.appendPlain(page, at: &at, levels: def)
                    return nil
                } catch { return error }
            }
            if let failure { throw failure }
            return
        }
        switch column.physicalType {
        case ParquetCode.int64:
            if case .dense(let null) = shape {
                #if _endian(little)
                // No nulls on the page: the values are the page's bytes.
                if !def.contains(0) {
                    guard p + def.count * 8 <= body.count else { throw FormatError("parquet: values truncated") }
                    let start = dense.count
                    dense.append(contentsOf: repeatElement(0, count: def.count))
                    dense.withUnsafeMutableBytes { dst in
                        body.withUnsafeBytes { src in (dst.baseAddress! + start * 8).copyMemory(from: src.baseAddress! + p, byteCount: def.count * 8) }
                    }
                    return
                }
                #endif
                for d in def {
                    if d == 0 { nulls += 1 }
                    dense.append(d == 0 ? null : try reader.int64())
                }
            } else {
                for d in def { ints.append(d == 0 ? nil : try reader.int64()) }
            }
        case ParquetCode.double:
            for d in def { doubles.append(d == 0 ? nil : Double(bitPattern: UInt64(bitPattern: try reader.int64()))) }
        case ParquetCode.byteArray:
            for d in def { strings.append(d == 0 ? nil : try reader.string()) }
        case ParquetCode.boolean:
            var bit = 0
            for d in def {
                if d == 0 { bools.append(nil); continue }
                bools.append(try reader.bit(bit))
                bit += 1
            }
        default:
            throw FormatError("parquet: column \(column.name): physical type \(column.physicalType) is not supported")
        }
    }

    func finish() throws(FormatError) -> ParquetColumnData {
        if column.isList { return .floatList(values: floats, offsets: offsets) }
        switch column.physicalType {
        case ParquetCode.int64: return .int64(ints)
        case ParquetCode.double: return .double(doubles)
        case ParquetCode.byteArray: return .string(strings)
        default: return .boolean(bools)
        }
    }
}

private struct PlainReader {
    let body: [UInt8]
    var offset: Int

    init(body: [UInt8], offset: Int) {
        self.body = body
        self.offset = offset
    }

    mutating func int64() throws(FormatError) -> Int64 {
        guard offset + 8 <= body.count else { throw FormatError("parquet: values truncated") }
        defer { offset += 8 }
        return body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int64.self).littleEndian }
    }

    mutating func string() throws(FormatError) -> String {
        guard offset + 4 <= body.count else { throw FormatError("parquet: values truncated") }
        let n = Int(body.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian })
        offset += 4
        guard n <= body.count - offset else { throw FormatError("parquet: values truncated") }
        defer { offset += n }
        let at = offset
        let s: String? = body.withUnsafeBufferPointer { all in
            let bytes = UnsafeBufferPointer(rebasing: all[at..<(at + n)])
            // ASCII (ids, mostly) needs no validation; the generic validating initializer cost a
            // sixth of a million-row segment's decode.
            var high: UInt8 = 0
            for b in bytes { high |= b }
            return high < 0x80 ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
        }
        guard let s else { throw FormatError("parquet: string value is not UTF-8") }
        return s
    }

    /// Booleans are bit-packed from the values' start, LSB first.
    func bit(_ i: Int) throws(FormatError) -> Bool {
        let byte = offset + i / 8
        guard byte < body.count else { throw FormatError("parquet: values truncated") }
        return (body[byte] >> UInt8(i % 8)) & 1 == 1
    }
}
