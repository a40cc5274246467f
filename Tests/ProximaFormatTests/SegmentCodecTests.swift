import Testing
@testable import ProximaCore
@testable import ProximaFormat

@Suite struct SegmentCodecTests {
    static let fields = [
        CollectionConfig.FilterableField(name: "category", type: .string),
        CollectionConfig.FilterableField(name: "price", type: .float),
        CollectionConfig.FilterableField(name: "count", type: .integer),
        CollectionConfig.FilterableField(name: "ok", type: .boolean),
        CollectionConfig.FilterableField(name: "version", type: .integer),  // collides with a fixed column
    ]

    static func rows(_ n: Int, dimension: Int) -> [SegmentRow] {
        var g = SplitMix64(seed: 11)
        return (0..<n).map { i in
            var meta: [String: JSONValue] = ["category": .string(["a", "b", "ü/../x", ""][i % 4]), "note": .string("row \(i)")]
            if i % 3 == 0 { meta["price"] = .double(Double(i) * 0.25) }
            if i % 5 == 0 { meta["price"] = .int(Int64(i)) }  // int in a float field: kept exactly via extra_meta
            if i % 2 == 0 { meta["count"] = .int(Int64(i) - 50) }
            if i % 7 == 0 { meta["ok"] = .bool(i % 14 == 0) }
            if i % 11 == 0 { meta["version"] = .int(Int64(i)) }
            if i % 13 == 0 { meta["nested"] = .object(["x": .array([.null, .bool(true)])]) }
            let deleted = i % 17 == 16
            let record = VectorRecord(
                id: i % 9 == 8 ? "id-\(i)-ü" : "id-\(i)", vector: deleted ? [] : (0..<dimension).map { _ in Float.random(in: -1...1, using: &g) },
                metadata: deleted ? [:] : meta, timestamp: 1_700_000_000_000_000 + Int64(i),
                expiresAt: i % 4 == 1 ? 1_800_000_000_000_000 : nil, version: Int64(100 + i))
            return SegmentRow(record: record, deleted: deleted)
        }
    }

    @Test(arguments: [0, 1, 9, 1000])
    func roundTrips(count: Int) throws {
        var options = ParquetWriter.Options()
        options.rowGroupRows = 300  // several row groups and pages
        options.pageBytes = 4096
        let rows = Self.rows(count, dimension: 24)
        let bytes = try SegmentCodec.encode(rows, dimension: 24, fields: Self.fields, info: ["collection_id": "c"], options: options)
        let decoded = try SegmentCodec.decode(bytes)
        // Live rows first, tombstones last: the order a segment keeps so its vectors sit at computable offsets.
        #expect(decoded.rows == rows.filter { !$0.deleted } + rows.filter(\.deleted))
        #expect(decoded.info["collection_id"] == "c")
        // Every live row's vector, read by byte range from the file alone.
        let layout = try #require(SegmentCodec.VectorLayout(info: decoded.info))
        #expect(layout.liveRows == rows.count { !$0.deleted } && layout.dimension == 24)
        for (r, row) in decoded.rows.enumerated() where !row.deleted {
            let range = try #require(layout.range(ofRow: r))
            let floats = Array(bytes[range]).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            #expect(floats == row.record.vector)
        }
        #expect(layout.range(ofRow: layout.liveRows) == nil && layout.range(ofRow: -1) == nil)
        // The row columns alone (as a cold open reads them: packed ids, dense integers) say the same.
        let file = try ParquetFile(bytes: bytes)
        let columns = try SegmentCodec.decodeRowColumns(file) { _, _ in (bytes, 0) }
        #expect(columns.count == decoded.rows.count)
        #expect(columns.ids.isASCII == !decoded.rows.contains { $0.record.id.contains("ü") })
        for (r, row) in decoded.rows.enumerated() {
            #expect(columns.ids[r] == row.record.id && !columns.ids.isNull(r))
            #expect(columns.metadata[r] == row.record.metadata && columns.timestamps[r] == row.record.timestamp)
            #expect(columns.expiresAt[r] == (row.record.expiresAt ?? .max) && columns.versions[r] == row.record.version)
            #expect(columns.deleted[r] == row.deleted)
        }
    }

    /// Packed strings keep nulls apart from empty values, compare by bytes,
    /// and know whether every byte is ASCII.
    @Test func packedStringsCompareByBytes() {
        var packed = PackedStrings(["b", "", "ab", "é"])
        #expect(Array(packed) == ["b", "", "ab", "é"] && !packed.isASCII)
        packed.appendNull()
        #expect(packed.count == 5 && packed.isNull(4) && !packed.isNull(1) && packed[4] == "")
        #expect(packed.compare(0, 2) > 0 && packed.compare(2, 0) < 0 && packed.compare(1, 4) == 0 && packed.compare(3, 0) > 0)
        #expect(PackedStrings(["x", "y"]).isASCII)
    }

    @Test func levelCodingRoundTrips() throws {
        var rng = SplitMix64(seed: 5)
        for pattern in [[UInt8](), [1], [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], Array(repeating: 1, count: 1000)] + (0..<20).map({ n in
            (0..<(n * 37)).map { _ in UInt8.random(in: 0...1, using: &rng) }
        }) {
            var out: [UInt8] = []
            LevelCoding.encode(pattern, into: &out)
            #expect(try LevelCoding.decode(out[...], count: pattern.count) == pattern)
        }
    }

    @Test func statisticsBoundEachRowGroup() throws {
        var options = ParquetWriter.Options()
        options.rowGroupRows = 100
        let rows = Self.rows(250, dimension: 4)
        let file = try ParquetFile(bytes: SegmentCodec.encode(rows, dimension: 4, fields: Self.fields, options: options))
        let versionColumn = try #require(file.columnIndex("version"))
        #expect(file.rowGroups.count == 3)
        // Rows as written (live first): the second row group holds rows 100..<200 of that order.
        let written = (rows.filter { !$0.deleted } + rows.filter(\.deleted))[100..<200].map(\.record.version)
        #expect(file.rowGroups[1].chunks[versionColumn].statistics?.min == .int(written.min()!))
        #expect(file.rowGroups[1].chunks[versionColumn].statistics?.max == .int(written.max()!))
        let category = try #require(file.columnIndex("category"))
        #expect(file.rowGroups[0].chunks[category].statistics?.min == .string([]))
    }

    @Test func everyDamagedByteIsReportedNotReturned() throws {
        let bytes = try SegmentCodec.encode(Self.rows(50, dimension: 8), dimension: 8, fields: Self.fields)
        let checksum = CRC32C.checksum(bytes)
        #expect(try SegmentCodec.decode(bytes, checksum: checksum).rows.count == 50)
        for i in 0..<bytes.count {
            var copy = bytes
            copy[i] ^= 0x20
            #expect(throws: FormatError.self) { try SegmentCodec.decode(copy, checksum: checksum) }
        }
    }

    @Test func pageChecksumsCatchDamageWithoutTheObjectChecksum() throws {
        let bytes = try SegmentCodec.encode(Self.rows(50, dimension: 64), dimension: 64, fields: Self.fields)
        let file = try ParquetFile(bytes: bytes)
        let vector = try #require(file.columnIndex("vector"))
        let chunk = file.rowGroups[0].chunks[vector]
        var copy = bytes
        copy[chunk.dataPageOffset + chunk.compressedSize / 2] ^= 0x01
        #expect(throws: FormatError.self) { try SegmentCodec.decode(copy) }
    }
}

@Suite struct ChecksumTests {
    @Test func crc32KnownAnswers() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
    }
}
