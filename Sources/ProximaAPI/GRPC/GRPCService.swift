import Foundation
import GRPCCore
import Logging
import ProximaAuth
import ProximaCore
import ProximaEngine
import ProximaFormat

/// The seed's `ProximaDb` service (proto/proximadb.proto) over the same
/// engine, decoder, credentials, rate limits, quotas and request budget as
/// the REST routes it sits beside: a gRPC call is translated into what the
/// REST route takes (`GRPCMessages`) and answered from what the engine says.
struct GRPCService: Proximadb_ProximaDb.ServiceProtocol {
    let routes: RESTRoutes
    let logger: Logger

    private var engine: Engine { routes.engine }

    // MARK: RPCs

    func collectionOperation(
        request: ServerRequest<Proximadb_CollectionRequest>, context: ServerContext
    ) async throws -> ServerResponse<Proximadb_CollectionResponse> {
        try await call(request, context) { who, m in
            let started = ContinuousClock.now
            var response = Proximadb_CollectionResponse()
            response.operation = m.operation
            switch m.operation {
            case .collectionCreate:
                guard m.hasCollectionConfig else { throw ProximaError(.invalidRequest, "collection_config is required to create a collection") }
                let spec = try routes.decoder.collectionSpec(try GRPCMessages.collectionSpecJSON(m.collectionConfig))
                try who.authorize(.admin, collection: spec.name)
                try await routes.quotas.admitCollection(who)
                let config = try await engine.createCollection(spec, tenant: who.tenant)
                routes.quotas.changed(who.tenant)
                response.collection = GRPCMessages.collection(config)
                response.affectedCount = 1
            case .collectionGet:
                let (config, stats) = try await engine.describeCollection(try path(who, m, .read))
                response.collection = GRPCMessages.collection(config, stats: stats)
            case .collectionList:
                let visible = try await engine.listCollections(tenant: who.tenant).filter { who.maySee($0.name) }
                response.collections = visible.map { GRPCMessages.collection($0) }
                response.totalCount = Int64(visible.count)
            case .collectionUpdate:
                let target = try path(who, m, .admin)
                let patch = try routes.decoder.collectionPatch(try GRPCMessages.collectionPatchJSON(m.collectionConfig))
                response.collection = GRPCMessages.collection(try await engine.updateCollection(target, patch))
                response.affectedCount = 1
            case .collectionDelete:
                try await engine.deleteCollection(try path(who, m, .admin))
                routes.quotas.changed(who.tenant)
                response.affectedCount = 1
            case .collectionMigrate:
                throw RPCError(code: .unimplemented, message: "COLLECTION_MIGRATE is not offered: collections live in one store")
            case .unspecified, .UNRECOGNIZED:
                throw ProximaError(.invalidRequest, "operation must be a CollectionOperation (COLLECTION_CREATE … COLLECTION_DELETE)")
            }
            response.success = true
            response.processingTimeUs = GRPCMessages.micros(since: started)
            return response
        }
    }

    func vectorInsert(
        request: ServerRequest<Proximadb_VectorInsertRequest>, context: ServerContext
    ) async throws -> ServerResponse<Proximadb_VectorOperationResponse> {
        try await call(request, context) { who, m in
            let started = ContinuousClock.now
            let target = try collectionPath(who, m.collectionID, .write)
            try await engine.admitWrite(target)
            let maxRecords = engine.limits.maxBatchVectors
            let decoded = m.vectorsAvroPayload.withUnsafeBytes { raw in
                Result { () throws(FormatError) in try VectorBatchCodec.decode(raw, maxRecords: maxRecords) }
            }
            let write = try RequestDecoder.insert(decoded, upsert: m.upsertMode, maxRecords: maxRecords)
            try await routes.quotas.admitWrite(who, write)
            let outcome = try await engine.write(target, write)
            routes.metrics.recordWrite(vectors: outcome.count)
            var response = Proximadb_VectorOperationResponse()
            response.success = true
            response.operation = m.upsertMode ? .vectorUpsert : .vectorInsert
            response.vectorIds = outcome.ids
            response.metrics = Self.metrics(count: outcome.count, since: started)
            return response
        }
    }

    func vectorMutation(
        request: ServerRequest<Proximadb_VectorMutationRequest>, context: ServerContext
    ) async throws -> ServerResponse<Proximadb_VectorOperationResponse> {
        try await call(request, context) { who, m in
            let started = ContinuousClock.now
            let target = try collectionPath(who, m.collectionID, .write)
            let selector = m.selector
            guard selector.vectorMatch.isEmpty else {
                throw ProximaError(.invalidRequest, "selector.vector_match is not offered: select by ids or by a metadata filter")
            }
            let filter = try GRPCMessages.filterJSON(equality: selector.metadataFilter, json: selector.filterJson, field: "selector.metadata_filter")
            var response = Proximadb_VectorOperationResponse()
            switch m.operation {
            case .mutationDelete:
                var body: [String: JSONValue] = [:]
                if !selector.ids.isEmpty { body["ids"] = .array(selector.ids.map { .string($0) }) }
                if let filter { body["filter"] = filter }
                let outcome = try await engine.write(target, try routes.decoder.delete(.object(body)))
                response.operation = .vectorDelete
                response.metrics = Self.metrics(count: outcome.count, since: started)
            case .mutationUpdate:
                guard filter == nil, !selector.ids.isEmpty else {
                    throw ProximaError(.invalidRequest, "an update selects its records by ids (a filter selects only deletes)")
                }
                guard selector.ids.count <= engine.limits.maxBatchVectors else {
                    throw ProximaError(.batchTooLarge, "at most \(engine.limits.maxBatchVectors) ids per update")
                }
                var body: [String: JSONValue] = [:]
                let updates = m.updates
                if !updates.vector.isEmpty { body["vector"] = GRPCMessages.floats(updates.vector) }
                if !updates.metadata.isEmpty { body["metadata"] = .object(try GRPCMessages.jsonValues(updates.metadata, field: "updates.metadata")) }
                if updates.hasExpiresAt {
                    guard updates.expiresAt >= 0, updates.expiresAt < 253_402_300_800_000_000 else {
                        throw ProximaError(.invalidRequest, "'expires_at' is out of range")
                    }
                    // REST takes seconds or RFC 3339; microseconds go as RFC 3339 to keep their precision.
                    body["expires_at"] = .string(Timestamp.rfc3339(micros: updates.expiresAt))
                }
                guard !body.isEmpty else { throw ProximaError(.invalidRequest, "updates must change the vector, the metadata or expires_at") }
                for id in selector.ids {
                    try Validation.vectorId(id)
                    let write = try routes.decoder.update(.object(body), id: id)
                    try await routes.quotas.admitWrite(who, write)
                    _ = try await engine.write(target, write)
                }
                response.operation = .vectorUpdate
                response.vectorIds = selector.ids
                response.metrics = Self.metrics(count: selector.ids.count, since: started)
            case .unspecified, .UNRECOGNIZED:
                throw ProximaError(.invalidRequest, "operation must be MUTATION_UPDATE or MUTATION_DELETE")
            }
            response.success = true
            return response
        }
    }

    func vectorSearch(
        request: ServerRequest<Proximadb_VectorSearchRequest>, context: ServerContext
    ) async throws -> ServerResponse<Proximadb_VectorOperationResponse> {
        try await call(request, context) { who, m in
            let started = ContinuousClock.now
            let target = try collectionPath(who, m.collectionID, .read)
            guard !m.queries.isEmpty, m.queries.count <= engine.limits.maxQueries else {
                throw ProximaError(.invalidRequest, "queries must hold 1 to \(engine.limits.maxQueries) queries")
            }
            if m.hasDistanceMetricOverride {
                let (config, _) = try await engine.describeCollection(target)
                let wanted: DistanceMetric?
                switch m.distanceMetricOverride {
                case .cosine: wanted = .cosine
                case .euclidean: wanted = .euclidean
                case .dotProduct: wanted = .dotProduct
                case .hamming: wanted = .hamming
                case .unspecified: wanted = nil
                case .UNRECOGNIZED(let n): throw ProximaError(.invalidRequest, "distance_metric_override \(n) is not a DistanceMetric")
                }
                if let wanted, wanted != config.distanceMetric {
                    throw ProximaError(
                        .invalidRequest, "the collection ranks by \(config.distanceMetric.rawValue); another metric needs a collection of its own")
                }
            }
            // The REST body: one search per distinct filter, queries in order.
            var base = try GRPCMessages.jsonValues(m.searchParams, field: "search_params")
            base["k"] = .int(Int64(m.topK == 0 ? 10 : m.topK))
            for key in base.keys where ["vector", "queries", "filter", "filters", "include_vectors", "include_metadata"].contains(key) {
                throw ProximaError(.invalidRequest, "search_params may not set '\(key)': it is a field of the request")
            }
            var vectors: [JSONValue] = []
            var filters: [JSONValue?] = []
            for (i, q) in m.queries.enumerated() {
                do throws(ProximaError) {
                    switch (q.vector.isEmpty, q.hasID) {
                    case (false, false): vectors.append(GRPCMessages.floats(q.vector))
                    case (true, true): vectors.append(GRPCMessages.floats(try await engine.getVector(target, id: q.id).vector))
                    default: throw ProximaError(.invalidRequest, "a query has a vector or the id of a stored record, not both or neither")
                    }
                    filters.append(try GRPCMessages.filterJSON(equality: q.metadataFilter, json: q.filterJson, field: "metadata_filter"))
                } catch {
                    throw ProximaError(error.code, "queries[\(i)]: \(error.message)")
                }
            }
            var groups: [(filter: JSONValue?, members: [Int])] = []
            for (i, f) in filters.enumerated() {
                if let g = groups.firstIndex(where: { $0.filter == f }) { groups[g].members.append(i) } else { groups.append((f, [i])) }
            }
            var lists = [[SearchHit]](repeating: [], count: vectors.count)
            for group in groups {
                var body = base
                body["queries"] = .array(group.members.map { vectors[$0] })
                if let f = group.filter { body["filter"] = f }
                let search = try routes.decoder.search(.object(body), collection: target)
                let results = try await engine.search(search.request)
                routes.metrics.recordQueries(group.members.count)
                for (slot, i) in group.members.enumerated() { lists[i] = results[slot] }
            }
            let include = m.hasIncludeFields ? m.includeFields : nil
            var response = Proximadb_VectorOperationResponse()
            response.success = true
            response.operation = .vectorSearch
            response.queryResults = lists.map { GRPCMessages.results($0, include: include) }
            response.compactResults = response.queryResults[0]
            response.resultInfo.resultCount = Int64(lists.reduce(0) { $0 + $1.count })
            response.metrics = Self.metrics(count: vectors.count, since: started)
            return response
        }
    }

    func health(request: ServerRequest<Proximadb_HealthRequest>, context: ServerContext) async throws -> ServerResponse<Proximadb_HealthResponse> {
        // Open as REST's /health is, unless the policy asks for credentials there too.
        do {
            if routes.gate.policy.requireAuthForHealth { _ = try await authenticate(request.metadata, peer: context.remotePeer) }
            var h = Proximadb_HealthResponse()
            h.status = "ok"
            h.version = RESTRoutes.version
            h.uptimeSeconds = Int64(routes.metrics.uptimeSeconds)
            h.memoryUsageBytes = Int64(ProcessMemory.residentBytes())
            return ServerResponse(message: h)
        } catch {
            return ServerResponse(error: GRPCStatus.rpcError(error, logger: logger))
        }
    }

    func getMetrics(
        request: ServerRequest<Proximadb_MetricsRequest>, context: ServerContext
    ) async throws -> ServerResponse<Proximadb_MetricsResponse> {
        try await call(request, context) { who, m in
            try who.authorize(.read, collection: nil)
            let backlog = await engine.backlog()
            routes.metrics.recordBacklog(bytes: backlog.bytes, oldestWrite: backlog.oldestWrite)
            var response = Proximadb_MetricsResponse()
            response.metrics = Self.samples(routes.metrics.render() + engine.storageMetricsText, names: m.metricNames)
            response.timestamp = Timestamp.nowMicros()
            return response
        }
    }

    // MARK: the door

    /// Authenticates the call, runs `body` within the request budget, and
    /// answers errors as statuses (with the stable code), counted as REST's are.
    private func call<In: Sendable, Out: Sendable>(
        _ request: ServerRequest<In>, _ context: ServerContext,
        _ body: @escaping @Sendable (Principal, In) async throws -> Out
    ) async throws -> ServerResponse<Out> {
        let started = ContinuousClock.now
        let method = context.descriptor.method
        do {
            let who = try await authenticate(request.metadata, peer: context.remotePeer)
            let message = request.message
            // gRPC cancels the handler itself when the client goes or its deadline passes.
            let out = try await routes.withinBudget(hangUp: nil, logger: logger) { try await body(who, message) }
            record(method, status: 200, since: started)
            return ServerResponse(message: out)
        } catch {
            let rpc = GRPCStatus.rpcError(error, logger: logger)
            record(method, status: Self.httpEquivalent(rpc.code), since: started)
            return ServerResponse(error: rpc)
        }
    }

    /// Rate limits by address, then the credential (`authorization: Bearer …`
    /// or `x-api-key`), then the per-key limit: REST's `AccessMiddleware`.
    private func authenticate(_ metadata: Metadata, peer: String) async throws -> Principal {
        typealias Access = AccessMiddleware<ServerRequestContext>
        let (gate, metrics) = (routes.gate, routes.metrics)
        if let d = gate.limiter.admit(address: Self.address(peer)), !d.admitted { throw Access.rateLimited(d, metrics: metrics) }
        let principal = try await Access.authenticate(
            gate: gate, metrics: metrics, authorization: metadata[stringValues: "authorization"].first(where: { _ in true }),
            apiKey: metadata[stringValues: "x-api-key"].first(where: { _ in true }))
        if let d = gate.limiter.admit(subject: principal.subject), !d.admitted { throw Access.rateLimited(d, metrics: metrics) }
        return principal
    }

    /// "ipv4:127.0.0.1:5555" → "127.0.0.1"; "ipv6:[::1]:5555" → "::1".
    static func address(_ peer: String) -> String? {
        let parts = peer.split(separator: ":", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let rest = parts[1]
        if rest.hasPrefix("["), let end = rest.firstIndex(of: "]") { return String(rest[rest.index(after: rest.startIndex)..<end]) }
        return rest.lastIndex(of: ":").map { String(rest[..<$0]) } ?? String(rest)
    }

    private func path(_ who: Principal, _ m: Proximadb_CollectionRequest, _ role: Role) throws -> CollectionPath {
        guard m.hasCollectionID else { throw ProximaError(.invalidRequest, "collection_id is required") }
        return try collectionPath(who, m.collectionID, role)
    }

    private func collectionPath(_ who: Principal, _ name: String, _ role: Role) throws -> CollectionPath {
        try who.authorize(role, collection: name)
        return try CollectionPath(who.tenant, name)
    }

    private func record(_ method: String, status: Int, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        routes.metrics.recordRequest(
            method: "GRPC", route: "ProximaDb/\(method)", status: status,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// The status REST would answer, so one request counter serves both transports.
    static func httpEquivalent(_ code: RPCError.Code) -> Int {
        switch code {
        case .invalidArgument, .failedPrecondition, .outOfRange: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .alreadyExists, .aborted: 409
        case .resourceExhausted: 429
        case .cancelled: 499
        case .unimplemented: 501
        case .unavailable: 503
        case .deadlineExceeded: 504
        default: 500
        }
    }

    static func metrics(count: Int, since start: ContinuousClock.Instant) -> Proximadb_OperationMetrics {
        var m = Proximadb_OperationMetrics()
        m.totalProcessed = Int64(count)
        m.successfulCount = Int64(count)
        m.processingTimeUs = GRPCMessages.micros(since: start)
        return m
    }

    /// Prometheus text as `name{labels}` → value, optionally only names starting with one of `names`.
    static func samples(_ text: String, names: [String]) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let key = String(line[..<space])
            if names.isEmpty || names.contains(where: { key.hasPrefix($0) }) { out[key] = value }
        }
        return out
    }
}
