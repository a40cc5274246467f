import Foundation
import Testing
@testable import ProximaCore
@testable import ProximaFormat

@Suite struct WALCodecTests {
    @Test func crc32cKnownAnswer() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    func sample() -> [WALEntry] {
        [
            WALEntry(
                entryId: "7-0", collectionId: "c1", operation: .insert,
                record: VectorRecord(id: "a", vector: [1, -2.5, 3e-7], metadata: ["k": "v", "n": 3], timestamp: 1_700_000_000_000_000, expiresAt: 1_800_000_000_000_000, version: 7),
                sequence: 7),
            WALEntry(
                entryId: "7-1", collectionId: "c1", operation: .delete,
                record: VectorRecord(id: "ü/../x", vector: [], timestamp: 5, version: 7), sequence: 7),
            WALEntry(
                entryId: "7-2", collectionId: "c1", operation: .upsert,
                record: VectorRecord(id: "b", vector: [0, 0, 1], metadata: [:], timestamp: 6, version: 7), sequence: 7),
        ]
    }

    @Test func roundTrips() throws {
        let entries = sample()
        let bytes = WALCodec.encode(entries, sync: Array(repeating: 0xAB, count: 16))
        #expect(try WALCodec.decode(bytes) == entries)
    }

    /// The container is written in one pass from each entry's precomputed
    /// size: sizes at every varint boundary, deletes, updates without a
    /// vector, long ids and non-ASCII metadata must all be exact.
    @Test func precomputedSizesAreExact() throws {
        var entries: [WALEntry] = []
        for (i, n) in [0, 1, 63, 64, 8191, 8192].enumerated() {
            for op in [WriteOperation.insert, .update, .delete] {
                let id = String(repeating: "é", count: n % 200)
                let record = VectorRecord(
                    id: id, vector: op == .delete ? [] : (0..<n).map(Float.init), metadata: op == .delete ? [:] : ["ключ": .string(String(repeating: "x", count: n))],
                    timestamp: [-1, 0, 63, 64, Int64.max, Int64.min][i], expiresAt: i % 2 == 0 ? nil : Int64(n) << 40, version: Int64(n) * 1_000_003)
                entries.append(WALEntry(entryId: "\(n)-\(i)", collectionId: "c", operation: op, record: record, sequence: Int64(n) << 20))
            }
        }
        for e in entries {
            let metadata = e.operation == .delete ? nil : JSONWriter.string(.object(e.record.metadata))
            var w = AvroWriter()
            WALCodec.write(e, metadata: metadata, to: &w)
            #expect(w.count == WALCodec.encodedSize(e, metadata: metadata), "\(e.operation) \(e.record.vector.count)")
        }
        #expect(try WALCodec.decode(WALCodec.encode(entries, sync: Array(repeating: 7, count: 16))) == entries)
    }

    /// The write path hands its kept buffer in (see `WarmBuffers`): the
    /// encoding must land in that storage, not a new array.
    @Test func encodesIntoTheBufferItIsGiven() throws {
        var buffer: [UInt8] = [1, 2, 3]
        buffer.reserveCapacity(1 << 16)
        let address = buffer.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let bytes = WALCodec.encode(sample(), sync: Array(repeating: 9, count: 16), reusing: consume buffer)
        #expect(bytes.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == address)
        #expect(try WALCodec.decode(bytes) == sample())
    }

    @Test func everyFlippedByteIsDetected() throws {
        let bytes = WALCodec.encode(sample(), sync: Array(repeating: 0x11, count: 16))
        var undetected = 0
        for i in stride(from: 0, to: bytes.count, by: 1) {
            var copy = bytes
            copy[i] ^= 0x01
            if let decoded = try? WALCodec.decode(copy), decoded == sample() { continue }  // flip in ignorable header text
            if (try? WALCodec.decode(copy)) != nil { undetected += 1 }
        }
        #expect(undetected == 0)
    }

    @Test func truncationIsDetected() {
        let bytes = WALCodec.encode(sample(), sync: Array(repeating: 0x22, count: 16))
        for n in [0, 3, 10, bytes.count / 2, bytes.count - 1] {
            #expect(throws: FormatError.self) { try WALCodec.decode(Array(bytes.prefix(n))) }
        }
    }
}

@Suite struct PublishedSchemaTests {
    @Test func publishedSchemaFileMatchesTheCodec() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/schemas/wal_entry.avsc").path
        let published = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(published == (try JSONParser.parse(WALCodec.schema)))
    }
}
