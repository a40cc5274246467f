import ProximaCore
import ProximaEngine

/// How credentials are required. `serve` and the function host build one
/// from their flags or environment; every transport asks the same gatekeeper.
public struct AuthPolicy: Sendable {
    /// `--auth required`: credentials even before any key exists.
    public var required = false
    /// Requests without a credential act as `Principal.anonymous` while no key
    /// exists and no JWT is configured: true on loopback or with `--allow-unauthenticated`.
    public var allowAnonymous = false
    /// `--require-auth-for-health`: `/health` and `/ready` need a credential too.
    public var requireAuthForHealth = false
    /// Quotas for keys and tokens that set none of their own.
    public var defaultQuotas = Quotas()

    public init(required: Bool = false, allowAnonymous: Bool = false, requireAuthForHealth: Bool = false, defaultQuotas: Quotas = Quotas()) {
        self.required = required
        self.allowAnonymous = allowAnonymous
        self.requireAuthForHealth = requireAuthForHealth
        self.defaultQuotas = defaultQuotas
    }
}

/// Turns a request's credential into a `Principal`, or says why not:
/// API keys from the store, JWTs from a JWKS, and rate limits around both.
public struct Gatekeeper: Sendable {
    public let policy: AuthPolicy
    public let keys: KeyRing
    public let jwt: JWTVerifier?
    public let limiter: RateLimiter

    public init(policy: AuthPolicy, keys: KeyRing, jwt: JWTVerifier? = nil, limiter: RateLimiter = RateLimiter()) {
        self.policy = policy
        self.keys = keys
        self.jwt = jwt
        self.limiter = limiter
    }

    /// The credential a request carries: `Authorization: Bearer …` or `X-API-Key`.
    public static func credential(authorization: String?, apiKey: String?) throws(ProximaError) -> String? {
        if let authorization {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw ProximaError(.unauthorized, "use 'Authorization: Bearer <API key or JWT>'")
            }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
        return apiKey.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Who the credential is; `unauthorized` when it is missing, unknown, revoked or expired.
    public func authenticate(_ credential: String?, now: Int64 = Timestamp.nowMicros()) async throws(ProximaError) -> Principal {
        guard let credential, !credential.isEmpty else {
            if !policy.required, jwt == nil, policy.allowAnonymous, try await !snapshot().anyExist { return .anonymous }
            throw ProximaError(.unauthorized, "this server needs a credential: 'Authorization: Bearer <API key or JWT>'")
        }
        if let id = APIKey.id(of: credential) {
            guard let record = try await snapshot(missing: id).records[id], APIKey.sameDigest(record.sha256, APIKey.hash(credential)) else {
                throw ProximaError(.unauthorized, "unknown API key")
            }
            guard record.revokedAtMicros == nil else { throw ProximaError(.unauthorized, "this API key has been revoked") }
            guard !record.isExpired(at: now) else { throw ProximaError(.unauthorized, "this API key has expired") }
            var principal = record.principal
            principal.quotas = principal.quotas.over(policy.defaultQuotas)
            return principal
        }
        guard let jwt else { throw ProximaError(.unauthorized, "unknown API key") }
        var principal = try await jwt.verify(credential, now: now)
        principal.quotas = policy.defaultQuotas
        return principal
    }

    func snapshot(missing id: String? = nil) async throws(ProximaError) -> KeyRing.Snapshot {
        do {
            if let id { return try await keys.snapshot(missing: id) }
            return try await keys.snapshot()
        } catch {
            throw ProximaError(converting: error)
        }
    }
}
