import Foundation
import Hummingbird
import ProximaCore
import ProximaEngine

/// The REST API of `shared/API.md` over the engine.
public struct RESTRoutes: Sendable {
    /// ProximaDB's version, in `/health` and start-up lines.
    public static let version = "0.1.0"

    let engine: Engine
    let metrics: APIMetrics
    let decoder: RequestDecoder
    /// Whose collections the requests reach (until credentials name the tenant).
    let tenant: Tenant

    /// Routes over `engine`, reaching `tenant`'s collections.
    public init(engine: Engine, tenant: Tenant = .default, metrics: APIMetrics = APIMetrics()) {
        self.engine = engine
        self.tenant = tenant
        self.metrics = metrics
        self.decoder = RequestDecoder(limits: engine.limits)
    }

    /// One set of routes for every transport: `serve` answers them over HTTP
    /// with `BasicRequestContext`, the function host with `FunctionRequestContext`.
    public func router<Context: RequestContext>(context: Context.Type = BasicRequestContext.self) -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        router.get("/health") { _, _ in
            Envelope.success([
                "status": "ok", "version": .string(Self.version), "uptime_seconds": .double(metrics.uptimeSeconds),
                "storage": .string(engine.storageDescription),
            ])
        }
        router.get("/metrics") { _, _ in
            Envelope.raw(Array((metrics.render() + engine.storageMetricsText).utf8), status: .ok, contentType: "text/plain; version=0.0.4")
        }
        router.post("/collections") { request, _ in
            let config = try await engine.createCollection(try decoder.collectionSpec(try await decoder.body(request)), tenant: tenant)
            return Envelope.success(Self.collectionJSON(config), status: .created)
        }
        router.get("/collections") { _, _ in
            Envelope.success(.array(try await engine.listCollections(tenant: tenant).map { Self.collectionJSON($0) }))
        }
        router.get("/collections/:name") { _, context in
            let (config, stats) = try await engine.describeCollection(try path(context))
            return Envelope.success(Self.collectionJSON(config, stats: stats))
        }
        router.patch("/collections/:name") { request, context in
            let config = try await engine.updateCollection(try path(context), try decoder.collectionPatch(try await decoder.body(request)))
            return Envelope.success(Self.collectionJSON(config))
        }
        router.delete("/collections/:name") { _, context in
            try await engine.deleteCollection(try path(context))
            return Envelope.success(["deleted": true])
        }
        router.post("/collections/:name/vectors") { request, context in
            let outcome = try await engine.write(try path(context), try decoder.insert(try await decoder.body(request)))
            metrics.recordWrite(vectors: outcome.count)
            return Envelope.success(["ids": .array(outcome.ids.map { .string($0) }), "count": .int(Int64(outcome.count))])
        }
        router.post("/collections/:name/vectors/delete") { request, context in
            let outcome = try await engine.write(try path(context), try decoder.delete(try await decoder.body(request)))
            return Envelope.success(["deleted": .int(Int64(outcome.count))])
        }
        router.get("/collections/:name/vectors/:id") { _, context in
            let record = try await engine.getVector(try path(context), id: try Self.vectorId(context))
            return Envelope.success(Self.recordJSON(record, includeVector: true, includeMetadata: true))
        }
        router.put("/collections/:name/vectors/:id") { request, context in
            let id = try Self.vectorId(context)
            let outcome = try await engine.write(try path(context), try decoder.update(try await decoder.body(request), id: id))
            metrics.recordWrite(vectors: 1)
            return Envelope.success(Self.recordJSON(outcome.record!, includeVector: true, includeMetadata: true))
        }
        router.delete("/collections/:name/vectors/:id") { _, context in
            let outcome = try await engine.write(try path(context), .delete(ids: [try Self.vectorId(context)], requireExisting: true))
            return Envelope.success(["deleted": .int(Int64(outcome.count))])
        }
        router.post("/collections/:name/search") { request, context in
            let search = try decoder.search(try await decoder.body(request), collection: try path(context))
            let results = try await engine.search(search.request)
            metrics.recordQueries(search.request.queries.count)
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
        router.post("/collections/:name/warm") { _, context in
            let started = ContinuousClock.now
            let (stats, requests) = try await engine.warm(try path(context))
            let elapsed = ContinuousClock.now - started
            return Envelope.success([
                "vector_count": .int(Int64(stats.vectorCount)), "segments": .int(Int64(stats.segmentCount)),
                "indexed_segments": .int(Int64(stats.indexedSegments)), "storage_requests": .int(Int64(requests)),
                "seconds": .double(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18),
            ])
        }
        router.post("/collections/:name/flush") { request, context in
            try await Self.job(engine, request, try path(context), kind: .flush)
        }
        router.post("/collections/:name/compact") { request, context in
            try await Self.job(engine, request, try path(context), kind: .compactAll)
        }
        return router
    }

    /// Queues a flush or compaction; `?wait=true` answers with what it did.
    static func job(_ engine: Engine, _ request: Request, _ path: CollectionPath, kind: JobKind) async throws -> Response {
        let wait: Bool
        switch request.uri.queryParameters.get("wait") {
        case nil, "false": wait = false
        case "true": wait = true
        default: throw ProximaError(.invalidRequest, "wait must be true or false")
        }
        let (jobId, report) = try await engine.requestJob(path, kind: kind, wait: wait)
        if let report { return Envelope.success(report.json) }
        return Envelope.success(["job_id": .string(jobId), "kind": .string(kind.rawValue), "status": wait ? "running" : "queued"], status: .accepted)
    }

    // MARK: path parameters

    /// The collection a route names, in the tenant of this API.
    func path(_ context: some RequestContext) throws -> CollectionPath {
        try CollectionPath(tenant, context.parameters.get("name") ?? "")
    }

    static func vectorId(_ context: some RequestContext) throws -> String {
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
            o["oldest_unindexed_write_at"] = stats.oldestUnflushedWrite.map { .string(Timestamp.rfc3339(micros: $0)) } ?? .null
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
