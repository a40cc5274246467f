import ProximaCore

/// Encodes a committed batch as one Avro object container file with the
/// published schema (`docs/schemas/wal_entry.avsc`, kept equal to `schema`
/// by a test), so fastavro and other Avro readers can read a user's WAL.
public enum WALCodec {
    public static let schema = """
        {"type":"record","name":"WalEntry","namespace":"ai.proximadb.wal","doc":"One write in a committed WAL batch.","fields":[\
        {"name":"entry_id","type":"string"},\
        {"name":"collection_id","type":"string"},\
        {"name":"operation","type":{"type":"enum","name":"WalOperation","symbols":["INSERT","UPSERT","UPDATE","DELETE"]}},\
        {"name":"vector_id","type":"string"},\
        {"name":"vector","type":["null",{"type":"array","items":"float"}],"default":null},\
        {"name":"metadata","type":["null","string"],"default":null,"doc":"JSON object text"},\
        {"name":"timestamp","type":{"type":"long","logicalType":"timestamp-micros"}},\
        {"name":"sequence","type":"long"},\
        {"name":"expires_at","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},\
        {"name":"version","type":"long"}]}
        """

    static let operations = WriteOperation.allCases

    public static func encode(_ entries: [WALEntry], sync: [UInt8]) -> [UInt8] {
        let estimate = entries.reduce(0) { $0 + 96 + $1.record.vector.count * 4 + $1.record.id.utf8.count }
        var w = AvroWriter(capacity: estimate)
        for e in entries {
            w.string(e.entryId)
            w.string(e.collectionId)
            w.int(operations.firstIndex(of: e.operation)!)
            w.string(e.record.id)
            if e.operation == .delete {
                w.branch(0)
            } else {
                w.branch(1)
                if !e.record.vector.isEmpty {
                    w.long(Int64(e.record.vector.count))
                    w.floats(e.record.vector)
                }
                w.long(0)
            }
            if e.operation == .delete {
                w.branch(0)
            } else {
                w.branch(1)
                w.string(JSONWriter.string(.object(e.record.metadata)))
            }
            w.long(e.record.timestamp)
            w.long(e.sequence)
            if let exp = e.record.expiresAt {
                w.branch(1)
                w.long(exp)
            } else {
                w.branch(0)
            }
            w.long(e.record.version)
        }
        return AvroContainer.encode(schema: schema, count: entries.count, body: w.bytes, sync: sync)
    }

    public static func decode(_ data: [UInt8]) throws(FormatError) -> [WALEntry] {
        var entries: [WALEntry] = []
        _ = try AvroContainer.decode(data) { (r: inout AvroReader) throws(FormatError) in
            let entryId = try r.string()
            let collectionId = try r.string()
            let opIndex = try r.int()
            guard operations.indices.contains(opIndex) else { throw FormatError("unknown WAL operation \(opIndex)") }
            let id = try r.string()
            var vector: [Float] = []
            switch try r.long() {
            case 0: break
            case 1: vector = try r.floatArray()
            default: throw FormatError("bad union branch for vector")
            }
            let metadata = try r.optionalJSONObject(field: "metadata")
            let timestamp = try r.long()
            let sequence = try r.long()
            var expiresAt: Int64?
            switch try r.long() {
            case 0: break
            case 1: expiresAt = try r.long()
            default: throw FormatError("bad union branch for expires_at")
            }
            let version = try r.long()
            entries.append(
                WALEntry(
                    entryId: entryId, collectionId: collectionId, operation: operations[opIndex],
                    record: VectorRecord(id: id, vector: vector, metadata: metadata, timestamp: timestamp, expiresAt: expiresAt, version: version),
                    sequence: sequence))
        }
        return entries
    }
}
