import Hummingbird
import ProximaCloud
import ProximaCore
import ProximaEngine

/// The REST API of `shared/API.md` over the engine.
public struct RESTRoutes: Sendable {
    public static let version = "0.1.0"

    let engine: Engine
    let metrics: APIMetrics
    let decoder: RequestDecoder

    public init(engine: Engine, metrics: APIMetrics = APIMetrics(), limits: RequestLimits = RequestLimits()) {
        self.engine = engine
        self.metrics = metrics
        self.decoder = RequestDecoder(limits: limits)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        router.get("/health") { _, _ in
            Envelope.success([
                "status": "ok", "version": .string(Self.version), "uptime_seconds": .double(metrics.uptimeSeconds),
                "storage": .string(engine.storage.description),
            ])
        }
        router.get("/metrics") { _, _ in
            Envelope.raw(Array((metrics.render() + StorageMetrics.shared.render()).utf8), status: .ok, contentType: "text/plain; version=0.0.4")
        }
        router.post("/collections") { request, _ in
            let config = try await engine.createCollection(try await decoder.body(request))
            return Envelope.success(Self.collectionJSON(config), status: .created)
        }
        router.get("/collections") { _, _ in
            Envelope.success(.array(try await engine.listCollections().map { Self.collectionJSON($0) }))
        }
        router.get("/collections/:name") { _, context in
            let (config, stats) = try await engine.describeCollection(try Self.name(context))
            return Envelope.success(Self.collectionJSON(config, stats: stats))
        }
        router.patch("/collections/:name") { request, context in
            let config = try await engine.updateCollection(try Self.name(context), try await decoder.body(request))
            return Envelope.success(Self.collectionJSON(config))
        }
        router.delete("/collections/:name") { _, context in
            try await engine.deleteCollection(try Self.name(context))
            return Envelope.success(["deleted": true])
        }
        router.post("/collections/:name/vectors") { request, context in
            let body = try await decoder.body(request)
            let collection = try await engine.open(try Self.name(context))
            let outcome = try await collection.write(try decoder.insert(body, config: collection.config))
            metrics.recordWrite(vectors: outcome.count)
            return Envelope.success(["ids": .array(outcome.ids.map { .string($0) }), "count": .int(Int64(outcome.count))])
        }
        router.post("/collections/:name/vectors/delete") { request, context in
            let name = try Self.name(context)
            let intent = try decoder.delete(try await decoder.body(request))
            let outcome = try await engine.write(name, intent)
            return Envelope.success(["deleted": .int(Int64(outcome.count))])
        }
        router.get("/collections/:name/vectors/:id") { _, context in
            let record = try await engine.getVector(try Self.name(context), id: try Self.vectorId(context))
            return Envelope.success(Self.recordJSON(record, includeVector: true, includeMetadata: true))
        }
        router.put("/collections/:name/vectors/:id") { request, context in
            let id = try Self.vectorId(context)
            let body = try await decoder.body(request)
            let collection = try await engine.open(try Self.name(context))
            let outcome = try await collection.write(try decoder.update(body, id: id, config: collection.config))
            metrics.recordWrite(vectors: 1)
            return Envelope.success(Self.recordJSON(outcome.record!, includeVector: true, includeMetadata: true))
        }
        router.delete("/collections/:name/vectors/:id") { _, context in
            let outcome = try await engine.write(
                try Self.name(context), .delete(ids: [try Self.vectorId(context)], requireExisting: true))
            return Envelope.success(["deleted": .int(Int64(outcome.count))])
        }
        router.post("/collections/:name/search") { request, context in
            let body = try await decoder.body(request)
            let collection = try await engine.open(try Self.name(context))
            let search = try decoder.search(body, config: collection.config)
            let results = try await collection.search(
                queries: search.queries, k: search.k, filter: search.filter, threshold: search.threshold, exact: search.exact,
                targetRecall: search.targetRecall)
            metrics.recordQueries(search.queries.count)
            let lists: [JSONValue] = results.map { hits in
                .array(hits.enumerated().map { rank, hit in
                    var o: [String: JSONValue] = [
                        "id": .string(hit.record.id), "score": .float(hit.score),
                        "distance": .float(hit.distance), "rank": .int(Int64(rank + 1)),
                    ]
                    if search.includeMetadata { o["metadata"] = .object(hit.record.metadata) }
                    if search.includeVectors { o["vector"] = .array(hit.record.vector.map { .float($0) }) }
                    return .object(o)
                })
            }
            return Envelope.success(["results": search.batch ? .array(lists) : lists[0]])
        }
        router.post("/collections/:name/flush") { request, context in
            try await Self.job(engine, request, context, kind: "flush")
        }
        router.post("/collections/:name/compact") { request, context in
            try await Self.job(engine, request, context, kind: "compact-all")
        }
        return router
    }

    /// Queues a flush or compaction; `?wait=true` answers with what it did.
    static func job(_ engine: Engine, _ request: Request, _ context: BasicRequestContext, kind: String) async throws -> Response {
        let name = try Self.name(context)
        let wait: Bool
        switch request.uri.queryParameters.get("wait") {
        case nil, "false": wait = false
        case "true": wait = true
        default: throw ProximaError(.invalidRequest, "wait must be true or false")
        }
        let (jobId, report) = try await engine.requestJob(name, kind: kind, wait: wait)
        if let report { return Envelope.success(report.json) }
        return Envelope.success(["job_id": .string(jobId), "kind": .string(kind), "status": wait ? "running" : "queued"], status: .accepted)
    }

    // MARK: path parameters

    static func name(_ context: BasicRequestContext) throws -> String {
        let name = context.parameters.get("name") ?? ""
        try Validation.collectionName(name)
        return name
    }

    static func vectorId(_ context: BasicRequestContext) throws -> String {
        let raw = context.parameters.get("id") ?? ""
        guard let id = raw.removingPercentEncoding else { throw ProximaError(.invalidId, "the id is not valid percent-encoded UTF-8") }
        try Validation.vectorId(id)
        return id
    }

    // MARK: answers

    static func collectionJSON(_ config: CollectionConfig, stats: OpenCollection.Stats? = nil) -> JSONValue {
        guard case .object(var o) = config.toJSON() else { return .null }
        o["created_at_us"] = nil
        o["updated_at_us"] = nil
        if let stats {
            o["vector_count"] = .int(Int64(stats.vectorCount))
            o["vector_bytes"] = .int(Int64(stats.vectorBytes))
            o["wal_sequence"] = .int(stats.walSequence)
            o["manifest_version"] = .int(stats.manifestVersion)
            o["segment_count"] = .int(Int64(stats.segmentCount))
            o["unflushed_wal_bytes"] = .int(Int64(stats.unflushedWALBytes))
            o["indexed_segment_count"] = .int(Int64(stats.indexedSegments))
        }
        return .object(o)
    }

    static func recordJSON(_ r: VectorRecord, includeVector: Bool, includeMetadata: Bool) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(r.id), "timestamp": .string(Timestamp.rfc3339(micros: r.timestamp)),
            "expires_at": r.expiresAt.map { .string(Timestamp.rfc3339(micros: $0)) } ?? .null, "version": .int(r.version),
        ]
        if includeVector { o["vector"] = .array(r.vector.map { .float($0) }) }
        if includeMetadata { o["metadata"] = .object(r.metadata) }
        return .object(o)
    }
}

import Foundation
