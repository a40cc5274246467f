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

    /// `reusing`: a buffer whose storage the encoding is written into.
    public static func encode(_ entries: [WALEntry], sync: [UInt8], reusing buffer: consuming [UInt8] = []) -> [UInt8] {
        // Metadata as JSON text first: then every entry's size is known and
        // the container is written in one pass into one buffer.
        let metadata = entries.map { $0.operation == .delete ? nil : JSONWriter.string(.object($0.record.metadata)) }
        var bodySize = 0
        for (e, m) in zip(entries, metadata) { bodySize += encodedSize(e, metadata: m) }
        return AvroContainer.encode(schema: schema, count: entries.count, bodySize: bodySize, sync: sync, reusing: consume buffer) { w in
            for (e, m) in zip(entries, metadata) { write(e, metadata: m, to: &w) }
        }
    }

    /// `metadata`: the record's JSON text, nil for a delete.
    static func write(_ e: WALEntry, metadata: String?, to w: inout AvroWriter) {
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
        if let metadata {
            w.branch(1)
            w.string(metadata)
        } else {
            w.branch(0)
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

    /// The bytes `write` writes for `e`, kept beside it (the container checks the sum).
    static func encodedSize(_ e: WALEntry, metadata: String?) -> Int {
        var n = AvroWriter.size(ofString: e.entryId) + AvroWriter.size(ofString: e.collectionId)
        n += AvroWriter.size(ofLong: Int64(operations.firstIndex(of: e.operation)!)) + AvroWriter.size(ofString: e.record.id)
        n += 1  // vector branch
        if e.operation != .delete {
            let count = e.record.vector.count
            if count > 0 { n += AvroWriter.size(ofLong: Int64(count)) + count * 4 }
            n += 1  // end of array
        }
        n += 1 + (metadata.map { AvroWriter.size(ofString: $0) } ?? 0)
        n += AvroWriter.size(ofLong: e.record.timestamp) + AvroWriter.size(ofLong: e.sequence)
        n += 1 + (e.record.expiresAt.map { AvroWriter.size(ofLong: $0) } ?? 0)
        n += AvroWriter.size(ofLong: e.record.version)
        return n
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
