import Hummingbird
import ProximaCore
import ProximaEngine
import ProximaFormat

/// JSON bodies into the engine's typed requests. Only shapes are checked
/// here (a string where a string belongs); the rules every transport shares
/// (dimensions, limits, id and metadata rules) are the engine's.
struct RequestDecoder {
    let limits: RequestLimits

    func body(_ request: Request) async throws -> JSONValue {
        let mime = Self.mediaType(request)
        // curl -d sends form-urlencoded and some clients text/plain: the body is still read as JSON.
        let accepted = ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
        guard accepted.contains(mime) || mime.hasSuffix("+json") else {
            throw ProximaError(.unsupportedMediaType, "send JSON with Content-Type: application/json")
        }
        let buffer = try await bytes(request)
        guard buffer.readableBytes > 0 else { throw ProximaError(.invalidJSON, "the request body is empty") }
        do {
            return try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw ProximaError(.invalidJSON, "malformed JSON: \(error)")
        }
    }

    /// An insert body: JSON, or with `Content-Type: application/avro` the
    /// binary batch (`docs/schemas/vector_batch.avsc`), upserting when the
    /// query says `upsert=true`.
    func insert(_ request: Request) async throws -> WriteIntent {
        guard Self.mediaType(request) == "application/avro" else { return try insert(try await body(request)) }
        let upsert: Bool
        switch request.uri.queryParameters.get("upsert")?.lowercased() {
        case nil, "false", "0": upsert = false
        case "true", "1": upsert = true
        case let other?: throw ProximaError(.invalidRequest, "'upsert' must be true or false, not '\(other)'")
        }
        let buffer = try await bytes(request)
        guard buffer.readableBytes > 0 else { throw ProximaError(.invalidAvro, "the request body is empty") }
        let decoded = buffer.withUnsafeReadableBytes { raw in
            Result { () throws(FormatError) in try VectorBatchCodec.decode(raw, maxRecords: limits.maxBatchVectors) }
        }
        return try Self.insert(decoded, upsert: upsert, maxRecords: limits.maxBatchVectors)
    }

    /// A decoded binary batch as a write (shared with gRPC's `vectors_avro_payload`).
    static func insert(_ decoded: Result<[VectorBatchCodec.Record], FormatError>, upsert: Bool, maxRecords: Int) throws(ProximaError) -> WriteIntent {
        let records: [VectorBatchCodec.Record]
        switch decoded {
        case .success(let r): records = r
        case .failure(let e) where VectorBatchCodec.isTooMany(e):
            throw ProximaError(.batchTooLarge, "at most \(maxRecords) vectors per request")
        case .failure(let e): throw ProximaError(.invalidAvro, "malformed Avro batch (docs/schemas/vector_batch.avsc): \(e)")
        }
        for (i, r) in records.enumerated() {
            if let e = r.expiresAt, e < 0 || e >= 253_402_300_800_000_000 {
                throw ProximaError(.invalidRequest, "vectors[\(i)]: 'expires_at' is out of range")
            }
        }
        return .insert(records.map { .init(id: $0.id, vector: $0.vector, metadata: $0.metadata, expiresAt: $0.expiresAt) }, upsert: upsert)
    }

    private static func mediaType(_ request: Request) -> String {
        guard let type = request.headers[.contentType] else { return "" }
        return type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    private func bytes(_ request: Request) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: limits.maxBodyBytes)
        } catch let e as any HTTPResponseError where e.status == .contentTooLarge {
            throw ProximaError(.payloadTooLarge, "request body exceeds \(limits.maxBodyBytes) bytes")
        }
    }

    static func object(_ json: JSONValue, allowed: Set<String>) throws(ProximaError) -> [String: JSONValue] {
        guard case .object(let o) = json else { throw ProximaError(.invalidRequest, "the body must be a JSON object, not \(json.typeName)") }
        if let unknown = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ProximaError(.invalidRequest, "unknown field '\(unknown)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        return o
    }

    static func bool(_ o: [String: JSONValue], _ key: String, default value: Bool) throws(ProximaError) -> Bool {
        guard let v = o[key], !v.isNull else { return value }
        guard case .bool(let b) = v else { throw ProximaError(.invalidRequest, "'\(key)' must be true or false") }
        return b
    }

    // MARK: writes

    func insert(_ json: JSONValue) throws(ProximaError) -> WriteIntent {
        let o = try Self.object(json, allowed: ["vectors", "upsert", "id", "vector", "metadata", "expires_at"])
        // The seed's single-record body (`{id?, vector, metadata?}`) is a batch of one.
        if o["vector"] != nil || o["id"] != nil || o["metadata"] != nil || o["expires_at"] != nil {
            guard o["vectors"] == nil else { throw ProximaError(.invalidRequest, "send 'vectors', or one record's 'vector', not both") }
            var record = o
            let upsert = record.removeValue(forKey: "upsert")
            var body: [String: JSONValue] = ["vectors": .array([.object(record)])]
            if let upsert { body["upsert"] = upsert }
            return try insert(.object(body))
        }
        guard let v = o["vectors"] else { throw ProximaError(.invalidRequest, "'vectors' is required") }
        guard case .array(let items) = v else { throw ProximaError(.invalidRequest, "'vectors' must be an array") }
        // Checked before decoding so a huge batch costs nothing.
        guard items.count <= limits.maxBatchVectors else {
            throw ProximaError(.batchTooLarge, "at most \(limits.maxBatchVectors) vectors per request; got \(items.count)")
        }
        let upsert = try Self.bool(o, "upsert", default: false)
        var records: [WriteIntent.NewRecord] = []
        records.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            do throws(ProximaError) {
                let r = try Self.object(item, allowed: ["id", "vector", "metadata", "expires_at"])
                var id: String?
                if let idValue = r["id"], !idValue.isNull {
                    guard case .string(let s) = idValue else { throw ProximaError(.invalidId, "'id' must be a string") }
                    id = s
                }
                guard let vector = r["vector"] else { throw ProximaError(.invalidVector, "'vector' is required") }
                let floats = try Validation.floats(vector)
                let metadata = try r["metadata"].map { m throws(ProximaError) in try Validation.metadataObject(m) } ?? [:]
                let expires = try r["expires_at"].map { e throws(ProximaError) in try Validation.expiresAt(e) } ?? nil
                records.append(WriteIntent.NewRecord(id: id, vector: floats, metadata: metadata, expiresAt: expires))
            } catch {
                throw ProximaError(error.code, "vectors[\(i)]: \(error.message)")
            }
        }
        return .insert(records, upsert: upsert)
    }

    func update(_ json: JSONValue, id: String) throws(ProximaError) -> WriteIntent {
        let o = try Self.object(json, allowed: ["vector", "metadata", "expires_at"])
        let vector = try o["vector"].map { v throws(ProximaError) in try Validation.floats(v) }
        let metadata = try o["metadata"].map { m throws(ProximaError) in try Validation.metadataObject(m) }
        let expiry: WriteIntent.ExpiryChange = try o["expires_at"].map { e throws(ProximaError) in .set(try Validation.expiresAt(e)) } ?? .keep
        return .update(id: id, vector: vector, metadata: metadata, expiresAt: expiry)
    }

    func delete(_ json: JSONValue) throws(ProximaError) -> WriteIntent {
        let o = try Self.object(json, allowed: ["ids", "filter"])
        switch (o["ids"].flatMap { $0.isNull ? nil : $0 }, o["filter"].flatMap { $0.isNull ? nil : $0 }) {
        case (.some(let idsValue), nil):
            guard case .array(let items) = idsValue else {
                throw ProximaError(.invalidRequest, "'ids' must be a non-empty array of at most \(limits.maxBatchVectors) ids")
            }
            var ids: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw ProximaError(.invalidId, "ids must be strings") }
                ids.append(s)
            }
            return .delete(ids: ids, requireExisting: false)
        case (nil, .some(let filterValue)):
            return .deleteMatching(try Filter.parse(filterValue))
        default:
            throw ProximaError(.invalidRequest, "send exactly one of 'ids' or 'filter'")
        }
    }

    // MARK: search

    /// A search body, with what the answer should carry.
    struct Search {
        var request: SearchRequest
        var batch: Bool
        var includeVectors: Bool
        var includeMetadata: Bool
    }

    func search(_ json: JSONValue, collection: CollectionPath) throws(ProximaError) -> Search {
        let o = try Self.object(
            json,
            allowed: [
                "vector", "queries", "k", "top_k", "filter", "filters", "include_vectors", "include_metadata", "threshold", "exact",
                "target_recall", "consistency",
            ])
        var queries: [[Float]] = []
        let batch: Bool
        switch (o["vector"], o["queries"]) {
        case (.some(let v), nil):
            queries = [try Validation.floats(v)]
            batch = false
        case (nil, .some(let qs)):
            guard case .array(let items) = qs, !items.isEmpty, items.count <= limits.maxQueries else {
                throw ProximaError(.invalidRequest, "'queries' must be a non-empty array of at most \(limits.maxQueries) vectors")
            }
            for (i, item) in items.enumerated() {
                do throws(ProximaError) { queries.append(try Validation.floats(item)) } catch {
                    throw ProximaError(error.code, "queries[\(i)]: \(error.message)")
                }
            }
            batch = true
        default:
            throw ProximaError(.invalidRequest, "send exactly one of 'vector' or 'queries'")
        }
        var k = 10
        let kValues = [o["k"], o["top_k"]].compactMap { $0 }.filter { !$0.isNull }
        guard kValues.count <= 1 else { throw ProximaError(.invalidRequest, "send 'k' or 'top_k', not both") }
        if let kv = kValues.first {
            guard case .int(let i) = kv, let value = Int(exactly: i) else {
                throw ProximaError(.invalidRequest, "'k' must be an integer from 1 to \(limits.maxK)")
            }
            k = value
        }
        // `filters` is the seed's name for it.
        let filterValues = [o["filter"], o["filters"]].compactMap { $0 }.filter { !$0.isNull }
        guard filterValues.count <= 1 else { throw ProximaError(.invalidRequest, "send 'filter' or 'filters', not both") }
        let filter = try filterValues.first.map { f throws(ProximaError) in try Filter.parse(f) }
        var threshold: Float?
        if let t = o["threshold"], !t.isNull {
            guard let d = t.number, d.isFinite else { throw ProximaError(.invalidRequest, "'threshold' must be a number") }
            threshold = Float(d)
        }
        var targetRecall: Double?
        if let r = o["target_recall"], !r.isNull {
            guard let d = r.number else { throw ProximaError(.invalidRequest, "'target_recall' must be in (0, 1]") }
            targetRecall = d
        }
        var consistency = Consistency.strong
        if let c = o["consistency"], !c.isNull {
            guard let name = c.string, let value = Consistency(rawValue: name) else {
                throw ProximaError(.invalidRequest, "'consistency' must be \"strong\" or \"eventual\"")
            }
            consistency = value
        }
        let request = SearchRequest(
            collection: collection, queries: queries, k: k, filter: filter, threshold: threshold,
            exact: try Self.bool(o, "exact", default: false), targetRecall: targetRecall, consistency: consistency)
        return Search(
            request: request, batch: batch, includeVectors: try Self.bool(o, "include_vectors", default: false),
            includeMetadata: try Self.bool(o, "include_metadata", default: true))
    }
}
