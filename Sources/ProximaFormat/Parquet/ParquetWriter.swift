import ProximaCore

/// Writes a Parquet file (format version 1 pages, PLAIN values, RLE levels,
/// zstd pages with CRC-32) from whole columns held in memory.
public enum ParquetWriter {
    public struct Options: Sendable {
        public var rowGroupRows = 65_536
        /// Uncompressed bytes per data page, roughly; pages split on row boundaries.
        public var pageBytes = 1 << 20
        public var compress = true
        /// Columns whose chunks, of every row group, come first in the file:
        /// the other columns' chunks and the footer then form one range at its
        /// end, which a reader that skips these columns reads in one request.
        /// (Readers find chunks by offset; a row group's chunks need not be adjacent.)
        public var leadingColumns: Set<String> = []
        public init() {}
    }

    /// Where an uncompressed column's values start in the file, page by page:
    /// a PLAIN row's values are contiguous from there.
    public struct PageValues: Sendable, Equatable {
        public var firstRow: Int
        public var offset: Int
    }

    public static func write(
        _ columns: [ParquetColumn], metadata: [(String, String)] = [], options: Options = Options()
    ) throws(FormatError) -> [UInt8] {
        try write(columns, options: options) { _ in metadata }
    }

    /// As `write`, with the footer's key-value metadata made once the pages
    /// are written, from where each uncompressed column's values landed.
    public static func write(
        _ columns: [ParquetColumn], options: Options = Options(), metadata: ([String: [PageValues]]) -> [(String, String)]
    ) throws(FormatError) -> [UInt8] {
        let rows = columns.first?.data.rowCount ?? 0
        for c in columns {
            guard c.data.rowCount == rows else { throw FormatError("parquet: column \(c.name) has \(c.data.rowCount) rows, not \(rows)") }
            if c.required, c.hasNulls { throw FormatError("parquet: required column \(c.name) holds nulls") }
        }
        var out = ParquetCode.magic
        var groupRows: [Range<Int>] = []
        var start = 0
        repeat {
            let end = min(rows, start + max(1, options.rowGroupRows))
            groupRows.append(start..<end)
            start = end
        } while start < rows
        var chunks = [[ChunkMeta?]](repeating: [ChunkMeta?](repeating: nil, count: columns.count), count: groupRows.count)
        var pages: [String: [PageValues]] = [:]
        // The leading columns of every row group, then the rest of every row group.
        for leading in [true, false] {
            for (g, range) in groupRows.enumerated() {
                for (i, c) in columns.enumerated() where options.leadingColumns.contains(c.name) == leading {
                    let chunk = writeChunk(c, rows: range, options: options, into: &out)
                    if chunk.codec == ParquetCode.uncompressed { pages[c.name, default: []] += chunk.pages }
                    chunks[g][i] = chunk
                }
            }
        }
        let rowGroups = zip(groupRows, chunks).map { RowGroupMeta(rows: $0.count, chunks: $1.map { $0! }) }
        let footer = encodeFooter(columns, rows: rows, rowGroups: rowGroups, metadata: metadata(pages))
        out += footer
        withUnsafeBytes(of: UInt32(footer.count).littleEndian) { out += $0 }
        out += ParquetCode.magic
        return out
    }

    struct ChunkMeta {
        var dataPageOffset: Int
        var compressedSize: Int
        var uncompressedSize: Int
        var levelCount: Int
        var statistics: ParquetStatistics?
        var codec: Int32
        var pages: [PageValues] = []
    }

    struct RowGroupMeta {
        var rows: Int
        var chunks: [ChunkMeta]
    }

    private static func writeChunk(_ c: ParquetColumn, rows: Range<Int>, options: Options, into out: inout [UInt8]) -> ChunkMeta {
        let compress = options.compress && c.compressed
        var meta = ChunkMeta(
            dataPageOffset: out.count, compressedSize: 0, uncompressedSize: 0, levelCount: 0,
            statistics: c.statistics(rows: rows), codec: compress ? ParquetCode.zstd : ParquetCode.uncompressed)
        let rowBytes = max(1, c.estimatedBytes(rows: rows) / max(1, rows.count))
        let pageRows = max(1, options.pageBytes / rowBytes)
        var page = rows.lowerBound
        repeat {
            let pageEnd = min(rows.upperBound, page + pageRows)
            let (body, levelCount, valuesStart) = c.encodePage(rows: page..<pageEnd)
            let stored = compress ? Zstd.compress(body) : body
            let header = ThriftWriter.encode { h in
                h.i32(1, ParquetCode.dataPage)
                h.i32(2, Int32(body.count))
                h.i32(3, Int32(stored.count))
                h.i32(4, Int32(bitPattern: CRC32.checksum(stored)))
                h.structure(5) { d in
                    d.i32(1, Int32(levelCount))
                    d.i32(2, ParquetCode.plain)
                    d.i32(3, ParquetCode.rle)
                    d.i32(4, ParquetCode.rle)
                }
            }
            if !compress { meta.pages.append(PageValues(firstRow: page, offset: out.count + header.count + valuesStart)) }
            out += header
            out += stored
            meta.compressedSize += header.count + stored.count
            meta.uncompressedSize += header.count + body.count
            meta.levelCount += levelCount
            page = pageEnd
        } while page < rows.upperBound
        return meta
    }

    private static func encodeFooter(
        _ columns: [ParquetColumn], rows: Int, rowGroups: [RowGroupMeta], metadata: [(String, String)]
    ) -> [UInt8] {
        ThriftWriter.encode { f in
            f.i32(1, 1)
            let schema = columns.flatMap(\.schemaElements)
            f.list(2, .structure, count: schema.count + 1) { w, i in
                w.structBody { e in
                    if i == 0 {
                        e.string(4, "schema")
                        e.i32(5, Int32(columns.count))
                    } else {
                        schema[i - 1].write(&e)
                    }
                }
            }
            f.i64(3, Int64(rows))
            f.list(4, .structure, count: rowGroups.count) { w, g in
                let group = rowGroups[g]
                w.structBody { rg in
                    rg.list(1, .structure, count: group.chunks.count) { w, ci in
                        let chunk = group.chunks[ci]
                        let column = columns[ci]
                        w.structBody { cc in
                            cc.i64(2, Int64(chunk.dataPageOffset))
                            cc.structure(3) { m in
                                m.i32(1, column.physicalType)
                                m.list(2, .i32, count: 2) { w, i in w.element(i == 0 ? ParquetCode.plain : ParquetCode.rle) }
                                let path = column.path
                                m.list(3, .binary, count: path.count) { w, i in w.element(path[i]) }
                                m.i32(4, chunk.codec)
                                m.i64(5, Int64(chunk.levelCount))
                                m.i64(6, Int64(chunk.uncompressedSize))
                                m.i64(7, Int64(chunk.compressedSize))
                                m.i64(9, Int64(chunk.dataPageOffset))
                                if let s = chunk.statistics {
                                    m.structure(12) { st in
                                        st.i64(3, s.nullCount)
                                        if let max = s.max { st.binary(5, max.bytes) }
                                        if let min = s.min { st.binary(6, min.bytes) }
                                    }
                                }
                            }
                        }
                    }
                    rg.i64(2, Int64(group.chunks.reduce(0) { $0 + $1.uncompressedSize }))
                    rg.i64(3, Int64(group.rows))
                    rg.i64(5, Int64(group.chunks.first?.dataPageOffset ?? 4))
                    rg.i64(6, Int64(group.chunks.reduce(0) { $0 + $1.compressedSize }))
                    rg.i32(7, Int32(g))
                }
            }
            f.list(5, .structure, count: metadata.count) { w, i in
                w.structBody { kv in
                    kv.string(1, metadata[i].0)
                    kv.string(2, metadata[i].1)
                }
            }
            f.string(6, "proximadb")
            // Type-defined order for every leaf, so readers trust min_value/max_value.
            f.list(7, .structure, count: columns.count) { w, _ in w.structBody { o in o.structure(1) { _ in } } }
        }
    }
}

extension ParquetStatistics.Bound {
    /// PLAIN encoding of the bound, as Statistics.min_value/max_value hold it.
    var bytes: [UInt8] {
        switch self {
        case .int(let v): withUnsafeBytes(of: v.littleEndian) { Array($0) }
        case .double(let v): withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) }
        case .string(let s): s
        }
    }
}

/// A schema element of the footer, flattened depth-first.
struct SchemaElement {
    var name: String
    var type: Int32?
    var repetition: Int32
    var children: Int32?
    var converted: Int32?
    /// LogicalType union field id and its body.
    var logical: ((inout ThriftWriter) -> Void)?

    func write(_ e: inout ThriftWriter) {
        if let type { e.i32(1, type) }
        e.i32(3, repetition)
        e.string(4, name)
        if let children { e.i32(5, children) }
        if let converted { e.i32(6, converted) }
        if let logical { e.structure(10, logical) }
    }
}

extension ParquetColumn {
    var hasNulls: Bool {
        switch data {
        case .int64(let v): v.contains(nil)
        case .double(let v): v.contains(nil)
        case .boolean(let v): v.contains(nil)
        case .string(let v): v.contains(nil)
        case .floatList: false
        }
    }

    var physicalType: Int32 {
        switch data {
        case .int64: ParquetCode.int64
        case .double: ParquetCode.double
        case .boolean: ParquetCode.boolean
        case .string: ParquetCode.byteArray
        case .floatList: ParquetCode.float
        }
    }

    var path: [String] {
        if case .floatList = data { return [name, "list", "element"] }
        return [name]
    }

    var schemaElements: [SchemaElement] {
        let repetition = required ? ParquetCode.required : ParquetCode.optional
        switch data {
        case .floatList:
            return [
                SchemaElement(
                    name: name, repetition: ParquetCode.required, children: 1, converted: ParquetCode.convertedList,
                    logical: { l in l.structure(3) { _ in } }),
                SchemaElement(name: "list", repetition: ParquetCode.repeated, children: 1),
                SchemaElement(name: "element", type: ParquetCode.float, repetition: ParquetCode.required),
            ]
        case .string:
            if annotation == .json {
                return [
                    SchemaElement(
                        name: name, type: physicalType, repetition: repetition, converted: ParquetCode.convertedJSON,
                        logical: { l in l.structure(12) { _ in } })
                ]
            }
            return [
                SchemaElement(
                    name: name, type: physicalType, repetition: repetition, converted: ParquetCode.convertedUTF8,
                    logical: { l in l.structure(1) { _ in } })
            ]
        case .int64 where annotation == .timestampMicros:
            return [
                SchemaElement(
                    name: name, type: physicalType, repetition: repetition, converted: ParquetCode.convertedTimestampMicros,
                    logical: { l in
                        l.structure(8) { t in
                            t.bool(1, true)
                            t.structure(2) { u in u.structure(2) { _ in } }
                        }
                    })
            ]
        default:
            return [SchemaElement(name: name, type: physicalType, repetition: repetition)]
        }
    }

    func estimatedBytes(rows: Range<Int>) -> Int {
        switch data {
        case .int64, .double: rows.count * 8
        case .boolean: rows.count / 8 + 1
        case .string(let v): v[rows].reduce(0) { $0 + 4 + ($1?.utf8.count ?? 0) }
        case .floatList(_, let offsets): (offsets[rows.upperBound] - offsets[rows.lowerBound]) * 4 + rows.count
        }
    }

    func statistics(rows: Range<Int>) -> ParquetStatistics? {
        func stats<T>(_ values: ArraySlice<T?>, _ bound: (T) -> ParquetStatistics.Bound) -> ParquetStatistics {
            var s = ParquetStatistics(min: nil, max: nil, nullCount: 0)
            for v in values {
                guard let v else { s.nullCount += 1; continue }
                let b = bound(v)
                if s.min.map({ b < $0 }) ?? true { s.min = b }
                if s.max.map({ $0 < b }) ?? true { s.max = b }
            }
            return s
        }
        switch data {
        case .int64(let v): return stats(v[rows]) { .int($0) }
        case .double(let v):
            // NaN has no place in an order; such a chunk gets no bounds.
            if v[rows].contains(where: { $0?.isNaN ?? false }) { return ParquetStatistics(min: nil, max: nil, nullCount: 0) }
            return stats(v[rows]) { .double($0) }
        case .string(let v): return stats(v[rows]) { .string(Array($0.utf8)) }
        case .boolean, .floatList: return nil
        }
    }

    /// One data page: repetition levels, definition levels (each with a
    /// 4-byte length), then PLAIN values. Returns the body, its level count,
    /// and where in the body the values start.
    func encodePage(rows: Range<Int>) -> ([UInt8], Int, Int) {
        var out: [UInt8] = []
        func levels(_ l: [UInt8]) {
            var encoded: [UInt8] = []
            LevelCoding.encode(l, into: &encoded)
            withUnsafeBytes(of: UInt32(encoded.count).littleEndian) { out += $0 }
            out += encoded
        }
        var valuesStart = 0
        func definitions<T>(_ values: ArraySlice<T?>) {
            if !required { levels(values.map { $0 == nil ? 0 : 1 }) }
            valuesStart = out.count
        }
        switch data {
        case .int64(let v):
            definitions(v[rows])
            out.reserveCapacity(out.count + rows.count * 8)
            for x in v[rows] { if let x { withUnsafeBytes(of: x.littleEndian) { out += $0 } } }
        case .double(let v):
            definitions(v[rows])
            for x in v[rows] { if let x { withUnsafeBytes(of: x.bitPattern.littleEndian) { out += $0 } } }
        case .boolean(let v):
            definitions(v[rows])
            let present = v[rows].compactMap { $0 }
            var bits = [UInt8](repeating: 0, count: (present.count + 7) / 8)
            for (i, b) in present.enumerated() where b { bits[i / 8] |= 1 << UInt8(i % 8) }
            out += bits
        case .string(let v):
            definitions(v[rows])
            for x in v[rows] {
                guard let x else { continue }
                withUnsafeBytes(of: UInt32(x.utf8.count).littleEndian) { out += $0 }
                out += x.utf8
            }
        case .floatList(let values, let offsets):
            var rep: [UInt8] = []
            var def: [UInt8] = []
            for r in rows {
                let n = offsets[r + 1] - offsets[r]
                if n == 0 {
                    rep.append(0)
                    def.append(0)
                } else {
                    rep.append(0)
                    rep.append(contentsOf: repeatElement(1, count: n - 1))
                    def.append(contentsOf: repeatElement(1, count: n))
                }
            }
            levels(rep)
            levels(def)
            valuesStart = out.count
            values[offsets[rows.lowerBound]..<offsets[rows.upperBound]].withUnsafeBytes { out += $0 }
            return (out, def.count, valuesStart)
        }
        return (out, rows.count, valuesStart)
    }
}
