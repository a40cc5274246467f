import ProximaCore

/// Avro object container files (spec: "Object Container Files"): a header with
/// the schema and a 16-byte sync marker, then blocks of records.
///
/// ProximaDB adds one metadata entry, `proximadb.crc32c`, the CRC-32C of
/// everything after the header, so a flipped byte is caught on read. Standard
/// readers ignore it.
public enum AvroContainer {
    static let magic: [UInt8] = [0x4F, 0x62, 0x6A, 0x01]  // "Obj" 1
    static let checksumKey = "proximadb.crc32c"

    /// One block holding `count` records already encoded in `body`.
    public static func encode(schema: String, count: Int, body: [UInt8], sync: [UInt8]) -> [UInt8] {
        encode(schema: schema, count: count, bodySize: body.count, sync: sync) { $0.raw(body) }
    }

    /// One block of `count` records that `writeBody` writes, `bodySize` bytes,
    /// straight into the container: one buffer (`reusing`'s storage when
    /// given), no copy of the body (a WAL commit's megabytes would otherwise
    /// be written three times).
    public static func encode(
        schema: String, count: Int, bodySize: Int, sync: [UInt8], reusing buffer: consuming [UInt8] = [],
        writeBody: (inout AvroWriter) -> Void
    ) -> [UInt8] {
        precondition(sync.count == 16)
        var out = AvroWriter(reusing: consume buffer, capacity: bodySize + schema.utf8.count + 160)
        out.raw(magic)
        out.long(3)  // metadata map: one block of three entries
        out.string("avro.schema")
        out.bytes(Array(schema.utf8))
        out.string("avro.codec")
        out.bytes(Array("null".utf8))
        out.string(checksumKey)
        // Eight hex digits, filled in once the blocks are written (readers parse any width).
        out.long(8)
        let checksumAt = out.count
        out.raw(repeatElement(UInt8(ascii: "0"), count: 8))
        out.long(0)
        out.raw(sync)
        let blocksAt = out.count
        if count > 0 {
            out.long(Int64(count))
            out.long(Int64(bodySize))
            let bodyAt = out.count
            writeBody(&out)
            precondition(out.count - bodyAt == bodySize, "Avro block body of \(out.count - bodyAt) bytes, declared \(bodySize)")
            out.raw(sync)
        }
        let crc = out.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[blocksAt...])) }
        let hex = String(crc, radix: 16)
        out.overwrite(at: checksumAt, with: Array((String(repeating: "0", count: 8 - hex.utf8.count) + hex).utf8))
        return out.bytes
    }

    /// Calls `record` once per record with a reader positioned at it; the
    /// callback must consume exactly one record.
    public static func decode(
        _ data: [UInt8], record: (inout AvroReader) throws(FormatError) -> Void
    ) throws(FormatError) -> (schema: String, count: Int) {
        let result: Result<(String, Int), FormatError> = data.withUnsafeBytes { raw in
            Result { () throws(FormatError) in try decode(raw, record: record) }
        }
        return try result.get()
    }

    static func decode(
        _ raw: UnsafeRawBufferPointer, record: (inout AvroReader) throws(FormatError) -> Void
    ) throws(FormatError) -> (schema: String, count: Int) {
        do {
            guard raw.count >= 4, Array(raw[0..<4]) == magic else { throw FormatError("not an Avro container file") }
            var r = AvroReader(raw, offset: 4)
            var meta: [String: [UInt8]] = [:]
            while true {
                let n = try r.blockCount()
                if n == 0 { break }
                for _ in 0..<n { meta[try r.string()] = try r.bytes() }
            }
            let sync = Array(try r.rawBytes(count: 16))
            guard let schemaBytes = meta["avro.schema"], let schema = String(validating: schemaBytes, as: UTF8.self) else {
                throw FormatError("container has no schema")
            }
            let codec = meta["avro.codec"].map { String(decoding: $0, as: UTF8.self) } ?? "null"
            guard codec == "null" else { throw FormatError("unsupported Avro codec \(codec)") }
            let bodyStart = r.offset
            if let stored = meta[checksumKey] {
                let expected = UInt32(String(decoding: stored, as: UTF8.self), radix: 16)
                let actual = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[bodyStart...]))
                guard expected == actual else { throw FormatError("checksum mismatch: the object is corrupted") }
            }
            var total = 0
            while !r.isAtEnd {
                let count = try r.long()
                let size = try r.long()
                guard count >= 0, size >= 0, size <= raw.count - r.offset else { throw FormatError("bad block header") }
                let blockEnd = r.offset + Int(size)
                for _ in 0..<count { try record(&r) }
                guard r.offset == blockEnd else { throw FormatError("block size does not match its records") }
                guard Array(try r.rawBytes(count: 16)) == sync else { throw FormatError("sync marker mismatch") }
                total += Int(count)
            }
            return (schema, total)
        }
    }
}
