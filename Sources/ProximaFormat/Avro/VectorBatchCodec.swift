import ProximaCore

/// The binary insert payload: one Avro datum, an array of `VectorRecord`
/// (`docs/schemas/vector_batch.avsc`, kept equal to `schema` by a test).
/// REST takes it as `Content-Type: application/avro`, gRPC as
/// `VectorInsertRequest.vectors_avro_payload`. A vector is its raw
/// little-endian float32s, so a client writes it with one copy
/// (`numpy.ndarray.tobytes()`) and the server reads it with one, where JSON
/// costs a number parse per component.
public enum VectorBatchCodec {
    public static let schema = """
        {"type":"array","items":{"type":"record","name":"VectorRecord","namespace":"ai.proximadb",\
        "doc":"One record of an insert or upsert batch.","fields":[\
        {"name":"id","type":["null","string"],"default":null,"doc":"null: the server assigns one"},\
        {"name":"vector","type":{"type":"array","items":"float"}},\
        {"name":"metadata","type":["null","string"],"default":null,"doc":"JSON object text"},\
        {"name":"expires_at","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null}]}}
        """

    public struct Record: Sendable, Equatable {
        public var id: String?
        public var vector: [Float]
        public var metadata: [String: JSONValue]
        /// Microseconds since the Unix epoch.
        public var expiresAt: Int64?

        public init(id: String?, vector: [Float], metadata: [String: JSONValue] = [:], expiresAt: Int64? = nil) {
            self.id = id
            self.vector = vector
            self.metadata = metadata
            self.expiresAt = expiresAt
        }
    }

    public static func encode(_ records: [Record]) -> [UInt8] {
        var w = AvroWriter(capacity: records.reduce(16) { $0 + 32 + $1.vector.count * 4 })
        if !records.isEmpty {
            w.long(Int64(records.count))
            for r in records {
                if let id = r.id {
                    w.branch(1)
                    w.string(id)
                } else {
                    w.branch(0)
                }
                if !r.vector.isEmpty {
                    w.long(Int64(r.vector.count))
                    w.floats(r.vector)
                }
                w.long(0)
                if r.metadata.isEmpty {
                    w.branch(0)
                } else {
                    w.branch(1)
                    w.string(JSONWriter.string(.object(r.metadata)))
                }
                if let e = r.expiresAt {
                    w.branch(1)
                    w.long(e)
                } else {
                    w.branch(0)
                }
            }
        }
        w.long(0)
        return w.bytes
    }

    /// The error `decode` throws past `maxRecords` (a 400 `batch_too_large`, not damage).
    static func tooMany(_ maxRecords: Int) -> FormatError { FormatError("more than \(maxRecords) records in one payload") }

    public static func isTooMany(_ error: FormatError) -> Bool { error.description.hasPrefix("more than ") && error.description.hasSuffix(" records in one payload") }

    /// Decodes a payload of at most `maxRecords` records; the error names the
    /// record it stopped at. Trailing bytes are damage, not ignored.
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxRecords: Int) throws(FormatError) -> [Record] {
        var r = AvroReader(bytes)
        var out: [Record] = []
        while true {
            let count = try r.blockCount()
            if count == 0 { break }
            // Each record takes at least 4 bytes, so a count past that is damage, not an allocation.
            guard count <= Int64(maxRecords - out.count) else { throw tooMany(maxRecords) }
            guard count <= Int64(bytes.count - r.offset) / 4 else { throw FormatError("bad array length") }
            out.reserveCapacity(out.count + Int(count))
            for _ in 0..<count {
                do throws(FormatError) {
                    out.append(try record(&r))
                } catch {
                    throw FormatError("record \(out.count): \(error.description)")
                }
            }
        }
        guard r.isAtEnd else { throw FormatError("\(bytes.count - r.offset) bytes after the last record") }
        return out
    }

    private static func record(_ r: inout AvroReader) throws(FormatError) -> Record {
        let id: String?
        switch try r.long() {
        case 0: id = nil
        case 1: id = try r.string()
        default: throw FormatError("bad union branch for id")
        }
        let vector = try r.floatArray()
        let metadata = try r.optionalJSONObject(field: "metadata")
        var expiresAt: Int64?
        switch try r.long() {
        case 0: break
        case 1: expiresAt = try r.long()
        default: throw FormatError("bad union branch for expires_at")
        }
        return Record(id: id, vector: vector, metadata: metadata, expiresAt: expiresAt)
    }
}
