import Foundation
import ProximaCore
import Testing

@testable import ProximaFormat

@Suite struct VectorBatchCodecTests {
    func sample() -> [VectorBatchCodec.Record] {
        [
            .init(id: "a", vector: [0.5, -1, .leastNonzeroMagnitude], metadata: ["genre": .string("drama"), "n": .int(3)]),
            .init(id: nil, vector: [1, 2, 3], expiresAt: 1_900_000_000_000_000),
            .init(id: "ünï/../códe", vector: [], metadata: ["nested": .object(["x": .array([.bool(true), .null])])]),
        ]
    }

    @Test func roundTrips() throws {
        let bytes = VectorBatchCodec.encode(sample())
        let decoded = try bytes.withUnsafeBytes { try VectorBatchCodec.decode($0, maxRecords: 10) }
        #expect(decoded == sample())
        let empty = VectorBatchCodec.encode([])
        #expect(try empty.withUnsafeBytes { try VectorBatchCodec.decode($0, maxRecords: 10) }.isEmpty)
    }

    @Test func damageIsAnErrorNeverData() {
        let bytes = VectorBatchCodec.encode(sample())
        for n in [0, 1, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: FormatError.self) { try Array(bytes.prefix(n)).withUnsafeBytes { try VectorBatchCodec.decode($0, maxRecords: 10) } }
        }
        #expect(throws: FormatError.self) { try (bytes + [0]).withUnsafeBytes { try VectorBatchCodec.decode($0, maxRecords: 10) } }
        #expect(throws: FormatError.self) { try bytes.withUnsafeBytes { try VectorBatchCodec.decode($0, maxRecords: 2) } }
        // A count of 2^62 records in a few bytes is refused before anything is allocated.
        var w = AvroWriter()
        w.long(1 << 62)
        #expect(throws: FormatError.self) { try w.bytes.withUnsafeBytes { try VectorBatchCodec.decode($0, maxRecords: .max) } }
        // Every single flipped byte decodes to an error or to records, never a crash.
        for i in bytes.indices {
            var copy = bytes
            copy[i] ^= 0xFF
            _ = try? copy.withUnsafeBytes { try VectorBatchCodec.decode($0, maxRecords: 10) }
        }
    }

    @Test func publishedSchemaFileMatchesTheCodec() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/schemas/vector_batch.avsc").path
        let published = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(published == (try JSONParser.parse(VectorBatchCodec.schema)))
    }
}
