import ArgumentParser
import Foundation
import Logging
import ProximaAuth
import ProximaCloud
import ProximaCore

/// Who may call the API, and how often: shared by `serve` and the function
/// host (which reads the same settings from `PROXIMADB_*` variables).
struct AccessOptions: ParsableArguments {
    enum Mode: String, ExpressibleByArgument, CaseIterable {
        /// Credentials once any API key exists (or a JWT issuer is configured).
        case auto
        /// Credentials always, even before the first key.
        case required
    }

    @Option(help: "auto: credentials once any API key exists or JWT is configured; required: always.")
    var auth: Mode = .auto

    @Flag(help: "Listen on a non-loopback address even though no credential is required yet.")
    var allowUnauthenticated = false

    @Flag(help: "/health and /ready need a credential too.")
    var requireAuthForHealth = false

    @Option(help: "JWKS for bearer JWTs: a file path or an http(s) URL.")
    var jwtJwks: String?
    @Option(help: "The issuer (iss) JWTs must name.")
    var jwtIssuer: String?
    @Option(help: "The audience (aud) JWTs must include.")
    var jwtAudience: String?
    @Option(help: "The JWT claim naming the tenant.")
    var jwtTenantClaim: String = "tenant"

    @Option(help: "Token bucket per API key or JWT subject: RPS[:BURST].")
    var rateLimitPerKey: String?
    @Option(help: "Token bucket per client IP address: RPS[:BURST].")
    var rateLimitPerIp: String?
    @Option(help: "Token bucket for the whole process: RPS[:BURST].")
    var rateLimitGlobal: String?

    @Option(help: "Collections a tenant may hold, unless its key sets its own quota.")
    var maxCollections: Int?
    @Option(help: "Vectors a tenant may hold, unless its key sets its own quota.")
    var maxVectors: Int?
    @Option(help: "Bytes of vectors a tenant may hold, unless its key sets its own quota.")
    var maxBytes: Int?

    /// The function host's environment variables, each the flag of the same name.
    static let environment: [(variable: String, flag: String, isFlag: Bool)] = [
        ("PROXIMADB_AUTH", "--auth", false), ("PROXIMADB_ALLOW_UNAUTHENTICATED", "--allow-unauthenticated", true),
        ("PROXIMADB_REQUIRE_AUTH_FOR_HEALTH", "--require-auth-for-health", true),
        ("PROXIMADB_JWT_JWKS", "--jwt-jwks", false), ("PROXIMADB_JWT_ISSUER", "--jwt-issuer", false),
        ("PROXIMADB_JWT_AUDIENCE", "--jwt-audience", false), ("PROXIMADB_JWT_TENANT_CLAIM", "--jwt-tenant-claim", false),
        ("PROXIMADB_RATE_LIMIT_PER_KEY", "--rate-limit-per-key", false), ("PROXIMADB_RATE_LIMIT_PER_IP", "--rate-limit-per-ip", false),
        ("PROXIMADB_RATE_LIMIT_GLOBAL", "--rate-limit-global", false), ("PROXIMADB_MAX_COLLECTIONS", "--max-collections", false),
        ("PROXIMADB_MAX_VECTORS", "--max-vectors", false), ("PROXIMADB_MAX_BYTES", "--max-bytes", false),
    ]

    /// The options a function's environment sets.
    static func fromEnvironment(_ env: [String: String]) throws -> AccessOptions {
        var args: [String] = []
        for (variable, flag, isFlag) in environment {
            guard let value = env[variable], !value.isEmpty else { continue }
            if isFlag {
                if ["1", "true", "yes"].contains(value.lowercased()) { args.append(flag) }
            } else {
                args += [flag, value]
            }
        }
        return try parse(args)
    }

    var jwtSettings: JWTSettings? {
        get throws {
            guard let jwtJwks else {
                guard jwtIssuer == nil, jwtAudience == nil else { throw ValidationError("--jwt-issuer and --jwt-audience need --jwt-jwks") }
                return nil
            }
            guard let jwtIssuer, let jwtAudience else { throw ValidationError("--jwt-jwks needs --jwt-issuer and --jwt-audience") }
            return JWTSettings(jwks: jwtJwks, issuer: jwtIssuer, audience: jwtAudience, tenantClaim: jwtTenantClaim)
        }
    }

    /// The gatekeeper for a handler over `storage`. `loopbackOnly` says no
    /// other machine can reach it: then requests without credentials act as
    /// the default tenant while no key exists, as they do with `--allow-unauthenticated`.
    func gatekeeper(storage: any CloudStorage, loopbackOnly: Bool) async throws -> Gatekeeper {
        let limit = { (text: String?) throws -> RateLimit? in try text.map { try RateLimit(parsing: $0) } }
        let policy = AuthPolicy(
            required: auth == .required, allowAnonymous: loopbackOnly || allowUnauthenticated,
            requireAuthForHealth: requireAuthForHealth,
            defaultQuotas: Quotas(maxCollections: maxCollections, maxVectors: maxVectors, maxBytes: maxBytes))
        var jwt: JWTVerifier?
        if let settings = try jwtSettings { jwt = try await JWTVerifier.load(settings) }
        return Gatekeeper(
            policy: policy, keys: KeyRing(store: KeyStore(storage: storage)), jwt: jwt,
            limiter: RateLimiter(perKey: try limit(rateLimitPerKey), perIP: try limit(rateLimitPerIp), global: try limit(rateLimitGlobal)))
    }

    /// Refuses to expose a server nobody has to authenticate to, unless asked to.
    func checkExposure(host: String, gate: Gatekeeper, logger: Logger) async throws {
        let keysExist = try await !gate.keys.snapshot().records.isEmpty
        let credentialsRequired = keysExist || gate.jwt != nil || auth == .required
        if credentialsRequired { return }
        if gate.policy.allowAnonymous, !allowUnauthenticated {
            logger.notice("no API keys exist and no JWT issuer is configured: serving \(host) (loopback only) without authentication")
            return
        }
        if allowUnauthenticated {
            logger.warning("serving \(host) WITHOUT authentication (--allow-unauthenticated): anyone who reaches it can read and delete everything")
            return
        }
        throw ValidationError(
            "refusing to listen on \(host) without authentication: create an API key (proximadb keys create --storage …), "
                + "configure --jwt-jwks, or pass --allow-unauthenticated")
    }
}
