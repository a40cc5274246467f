import Foundation
import Hummingbird
import Logging
import NIOCore
import ProximaAuth
import ProximaCloud
import ProximaCore
import ProximaEngine

/// The REST API of `shared/API.md` over the engine.
public struct RESTRoutes: Sendable {
    /// ProximaDB's version, in `/health` and start-up lines.
    public static let version = "0.1.0"

    let engine: Engine
    let metrics: APIMetrics
    let decoder: RequestDecoder
    /// Who may do what: credentials, rate limits, the anonymous-access policy.
    let gate: Gatekeeper
    let quotas: QuotaCheck
    /// How long one request may take (`serve --request-timeout`); nil: unbounded.
    let requestTimeout: Duration?
    /// The gRPC port `/health` tells clients about (nil: gRPC is off).
    public var grpcPort: Int?

    /// Routes over `engine`. Without a gatekeeper, requests need no credential
    /// until a key exists in the store (local use and tests).
    public init(engine: Engine, gate: Gatekeeper? = nil, requestTimeout: Duration? = nil, metrics: APIMetrics = APIMetrics()) {
        self.engine = engine
        self.requestTimeout = requestTimeout
        self.gate = gate ?? Gatekeeper(policy: AuthPolicy(allowAnonymous: true), keys: KeyRing(store: KeyStore(storage: engine.storage)))
        self.metrics = metrics
        self.decoder = RequestDecoder(limits: engine.limits)
        self.quotas = QuotaCheck(engine: engine)
    }

    /// One set of routes for every transport: `serve` answers them over HTTP
    /// with `ServerRequestContext`, the function host with `FunctionRequestContext`.
    public func router<Context: ProximaRequestContext>(context: Context.Type = ServerRequestContext.self) -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware(metrics: metrics))
        router.add(middleware: AccessMiddleware(gate: gate, metrics: metrics))
        router.get("/health") { _, _ in
            Envelope.success(health(status: "ok"))
        }
        router.get("/ready") { _, _ in
            // Ready once the store answers and the key set is loaded: the two things every other route needs.
            do {
                _ = try await engine.storage.list(prefix: "catalog/", startAfter: nil, limit: 1)
                _ = try await gate.keys.snapshot()
            } catch {
                throw ProximaError(.storageUnavailable, "the object store does not answer: not ready", retryAfterSeconds: 1)
            }
            return Envelope.success(health(status: "ready"))
        }
        router.get("/metrics") { _, context in
            try principal(context, .read)
            let backlog = await engine.backlog()
            metrics.recordBacklog(bytes: backlog.bytes, oldestWrite: backlog.oldestWrite)
            return Envelope.raw(
                Array((metrics.render() + engine.storageMetricsText).utf8), status: .ok, contentType: "text/plain; version=0.0.4")
        }
        router.post("/collections") { request, context in
            let spec = try decoder.collectionSpec(try await decoder.body(request))
            let who = try principal(context, .admin, collection: spec.name)
            try await quotas.admitCollection(who)
            let config = try await bounded(context) { try await engine.createCollection(spec, tenant: who.tenant) }
            quotas.changed(who.tenant)
            return Envelope.success(Self.collectionJSON(config), status: .created)
        }
        router.get("/collections") { _, context in
            let who = try principal(context, .read)
            let visible = try await bounded(context) { try await engine.listCollections(tenant: who.tenant) }.filter { who.maySee($0.name) }
            return Envelope.success(.array(visible.map { Self.collectionJSON($0) }))
        }
        router.get("/collections/:name") { _, context in
            let target = try path(context, .read)
            let (config, stats) = try await bounded(context) { try await engine.describeCollection(target) }
            return Envelope.success(Self.collectionJSON(config, stats: stats))
        }
        router.patch("/collections/:name") { request, context in
            let target = try path(context, .admin)
            let patch = try decoder.collectionPatch(try await decoder.body(request))
            let config = try await bounded(context) { try await engine.updateCollection(target, patch) }
            return Envelope.success(Self.collectionJSON(config))
        }
        router.delete("/collections/:name") { _, context in
            let target = try path(context, .admin)
            try await bounded(context) { try await engine.deleteCollection(target) }
            quotas.changed(target.tenant)
            return Envelope.success(["deleted": true])
        }
        router.post("/collections/:name/vectors") { request, context in
            let target = try path(context, .write)
            try await engine.admitWrite(target)
            let write = try await decoder.insert(request)
            try await quotas.admitWrite(try principal(context, .write), write)
            let outcome = try await bounded(context) { try await engine.write(target, write) }
            metrics.recordWrite(vectors: outcome.count)
            return Envelope.success(["ids": .array(outcome.ids.map { .string($0) }), "count": .int(Int64(outcome.count))])
        }
        router.post("/collections/:name/vectors/delete") { request, context in
            let target = try path(context, .write)
            let delete = try decoder.delete(try await decoder.body(request))
            let outcome = try await bounded(context) { try await engine.write(target, delete) }
            return Envelope.success(["deleted": .int(Int64(outcome.count))])
        }
        router.get("/collections/:name/vectors/:id") { _, context in
            let (target, id) = (try path(context, .read), try Self.vectorId(context))
            let record = try await bounded(context) { try await engine.getVector(target, id: id) }
            return Envelope.success(Self.recordJSON(record, includeVector: true, includeMetadata: true))
        }
        router.put("/collections/:name/vectors/:id") { request, context in
            let target = try path(context, .write)
            let id = try Self.vectorId(context)
            let write = try decoder.update(try await decoder.body(request), id: id)
            try await quotas.admitWrite(try principal(context, .write), write)
            let outcome = try await bounded(context) { try await engine.write(target, write) }
            metrics.recordWrite(vectors: 1)
            return Envelope.success(Self.recordJSON(outcome.record!, includeVector: true, includeMetadata: true))
        }
        router.delete("/collections/:name/vectors/:id") { _, context in
            let target = try path(context, .write)
            let id = try Self.vectorId(context)
            let outcome = try await bounded(context) { try await engine.write(target, .delete(ids: [id], requireExisting: true)) }
            return Envelope.success(["deleted": .int(Int64(outcome.count))])
        }
        router.post("/collections/:name/search") { request, context in
            let search = try decoder.search(try await decoder.body(request), collection: try path(context, .read))
            let query = search.request
            let results = try await bounded(context) { try await engine.search(query) }
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
            let target = try path(context, .read)
            let started = ContinuousClock.now
            let (stats, requests) = try await bounded(context) { try await engine.warm(target) }
            let elapsed = ContinuousClock.now - started
            return Envelope.success([
                "vector_count": .int(Int64(stats.vectorCount)), "segments": .int(Int64(stats.segmentCount)),
                "indexed_segments": .int(Int64(stats.indexedSegments)), "local_graph_segments": .int(Int64(stats.localGraphSegments)),
                "storage_requests": .int(Int64(requests)),
                "seconds": .double(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18),
            ])
        }
        router.post("/collections/:name/flush") { request, context in
            let (target, wait) = (try path(context, .admin), try Self.wait(request))
            return try await bounded(context) { try await Self.job(engine, target, wait: wait, kind: .flush) }
        }
        router.post("/collections/:name/compact") { request, context in
            let (target, wait) = (try path(context, .admin), try Self.wait(request))
            return try await bounded(context) { try await Self.job(engine, target, wait: wait, kind: .compactAll) }
        }
        KeyRoutes(store: gate.keys.store, keys: gate.keys, decoder: decoder).add(to: router) { c, r, n in try principal(c, r, collection: n) }
        return router
    }

    /// `/health` and `/ready`: the seed's fields.
    func health(status: String) -> JSONValue {
        [
            "status": .string(status), "version": .string(Self.version), "uptime_seconds": .double(metrics.uptimeSeconds),
            "storage": .string(engine.storageDescription), "memory_rss_bytes": .int(Int64(ProcessMemory.residentBytes())),
            "grpc_port": grpcPort.map { .int(Int64($0)) } ?? .null,
        ]
    }

    /// `?wait=true|false`.
    static func wait(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("wait") {
        case nil, "false": return false
        case "true": return true
        default: throw ProximaError(.invalidRequest, "wait must be true or false")
        }
    }

    /// Queues a flush or compaction; with `wait`, answers with what it did.
    static func job(_ engine: Engine, _ path: CollectionPath, wait: Bool, kind: JobKind) async throws -> Response {
        let (jobId, report) = try await engine.requestJob(path, kind: kind, wait: wait)
        if let report { return Envelope.success(report.json) }
        return Envelope.success(["job_id": .string(jobId), "kind": .string(kind.rawValue), "status": wait ? "running" : "queued"], status: .accepted)
    }

    // MARK: path parameters

    /// Runs a request's work within its budget: `--request-timeout`, and while
    /// the client is still connected. Past either, the work is cancelled and
    /// the request answered (504 `deadline_exceeded`) or dropped.
    func bounded<T: Sendable>(_ context: some ProximaRequestContext, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withinBudget(hangUp: await context.hangUp(), logger: context.logger, work)
    }

    /// `bounded` for any transport: `hangUp` completes when the caller goes away (nil: never known).
    func withinBudget<T: Sendable>(
        hangUp: EventLoopFuture<Void>?, logger: Logger, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let deadline = requestTimeout.map { ContinuousClock.now + $0 }
        guard deadline != nil || hangUp != nil else { return try await work() }
        do {
            return try await withDeadline(deadline, abandonWhen: hangUp, work)
        } catch is DeadlineExceeded {
            throw ProximaError(
                .deadlineExceeded,
                "the request did not finish within its time budget (\(requestTimeout!)); a write's outcome is unknown: read before retrying")
        } catch is ClientWentAway {
            logger.info("the client closed its connection: its request was cancelled")
            throw ProximaError(.deadlineExceeded, "the client closed its connection")
        }
    }

    /// Who asks, allowed to do what `needed` names (on `collection`, if one): else 401 or 403.
    @discardableResult
    func principal(_ context: some ProximaRequestContext, _ needed: Role, collection: String? = nil) throws -> Principal {
        guard let who = context.facts.principal else { throw ProximaError(.unauthorized, "this route needs a credential") }
        try who.authorize(needed, collection: collection)
        return who
    }

    /// The collection a route names, in the asker's tenant, once the asker may do `needed` to it.
    func path(_ context: some ProximaRequestContext, _ needed: Role) throws -> CollectionPath {
        let name = context.parameters.get("name") ?? ""
        let who = try principal(context, needed, collection: name)
        return try CollectionPath(who.tenant, name)
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
