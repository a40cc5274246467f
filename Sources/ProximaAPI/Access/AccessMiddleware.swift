import HTTPTypes
import Hummingbird
import ProximaAuth
import ProximaCore

/// The door every request passes: per-address and global rate limits, then
/// the credential (API key or JWT), then the per-key limit. Routes authorize
/// the action themselves (`RESTRoutes.principal`), since only they know which
/// collection and role it needs. `/health` and `/ready` are open unless the
/// policy says otherwise (they still count against the address's limit).
struct AccessMiddleware<Context: ProximaRequestContext>: RouterMiddleware {
    let gate: Gatekeeper
    let metrics: APIMetrics

    static var openPaths: Set<String> { ["/health", "/ready"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var decision = gate.limiter.admit(address: context.clientAddress)
        if let d = decision, !d.admitted { return rejected(d) }
        if !(Self.openPaths.contains(request.uri.path) && !gate.policy.requireAuthForHealth) {
            let principal = try await authenticate(request)
            context.facts.principal = principal
            if let d = gate.limiter.admit(subject: principal.subject) {
                if !d.admitted { return rejected(d) }
                if decision == nil || d.remaining < decision!.remaining { decision = d }
            }
        }
        var response = try await next(request, context)
        if let decision { Self.addHeaders(decision, to: &response.headers) }
        return response
    }

    /// The request's principal; failures are counted by their code.
    func authenticate(_ request: Request) async throws(ProximaError) -> Principal {
        try await Self.authenticate(
            gate: gate, metrics: metrics, authorization: request.headers[.authorization], apiKey: request.headers[.xAPIKey])
    }

    /// The principal a credential names (`Authorization: Bearer …` or `X-API-Key`),
    /// failures counted by their code: REST's door and gRPC's (from call metadata).
    static func authenticate(gate: Gatekeeper, metrics: APIMetrics, authorization: String?, apiKey: String?) async throws(ProximaError) -> Principal {
        let outcome: Result<Principal, ProximaError>
        do {
            let credential = try Gatekeeper.credential(authorization: authorization, apiKey: apiKey)
            outcome = .success(try await gate.authenticate(credential))
        } catch {
            outcome = .failure(error)
        }
        if case .failure(let e) = outcome { metrics.recordAuthFailure(reason: e.code.rawValue) }
        return try outcome.get()
    }

    func rejected(_ d: RateDecision) -> Response {
        var response = Envelope.failure(Self.rateLimited(d, metrics: metrics))
        Self.addHeaders(d, to: &response.headers)
        return response
    }

    /// A refusal by a rate limit, counted by its scope.
    static func rateLimited(_ d: RateDecision, metrics: APIMetrics) -> ProximaError {
        metrics.recordRateLimited(reason: d.scope)
        return ProximaError(.rateLimited, "too many requests; retry after \(d.retryAfterSeconds) s", retryAfterSeconds: d.retryAfterSeconds)
    }

    /// The `RateLimit-*` fields of draft-ietf-httpapi-ratelimit-headers.
    static func addHeaders(_ d: RateDecision, to headers: inout HTTPFields) {
        headers[.rateLimitLimit] = String(d.limit)
        headers[.rateLimitRemaining] = String(d.remaining)
        headers[.rateLimitReset] = String(d.resetSeconds)
    }
}

extension HTTPField.Name {
    static let xAPIKey = HTTPField.Name("X-API-Key")!
    static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
}
