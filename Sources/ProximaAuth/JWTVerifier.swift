import Foundation
import JWTKit
import ProximaCloud
import ProximaCore
import ProximaEngine
import Synchronization

/// What `serve --jwt-*` (or the function's `PROXIMADB_JWT_*`) configures.
public struct JWTSettings: Sendable {
    /// A JWKS file, or an http(s) URL serving one.
    public var jwks: String
    public var issuer: String
    public var audience: String
    /// The claim naming the tenant.
    public var tenantClaim: String = "tenant"
    /// Clock skew forgiven on `exp` and `nbf`.
    public var leewaySeconds: Int64 = 30

    public init(jwks: String, issuer: String, audience: String, tenantClaim: String = "tenant") {
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.tenantClaim = tenantClaim
    }
}

/// Verifies bearer JWTs against a JWKS: RS256, ES256 and EdDSA only, so
/// `alg: none` and HMAC tokens (signed with a public key as the "secret")
/// are refused before any key is looked at. The tenant comes from the
/// configured claim and the role from `scope` / `scp` (`proximadb:read|write|admin`).
public final class JWTVerifier: Sendable {
    public static let algorithms: Set<String> = ["RS256", "ES256", "EdDSA"]

    let settings: JWTSettings
    private let keys: Mutex<JWTKeyCollection>
    private let transport: HTTPTransport?
    /// When the JWKS URL was last fetched, so unknown `kid`s refetch it at most once a minute.
    private let fetchedAt = Mutex<ContinuousClock.Instant>(.now)

    private init(settings: JWTSettings, keys: JWTKeyCollection, transport: HTTPTransport?) {
        self.settings = settings
        self.keys = Mutex(keys)
        self.transport = transport
    }

    /// Reads the JWKS (file or URL) and checks it holds at least one usable key.
    public static func load(_ settings: JWTSettings) async throws -> JWTVerifier {
        let isURL = settings.jwks.hasPrefix("https://") || settings.jwks.hasPrefix("http://")
        let transport = isURL ? HTTPTransport(requestTimeout: .seconds(10)) : nil
        let json = try await fetch(settings.jwks, transport: transport)
        return JWTVerifier(settings: settings, keys: try await collection(json), transport: transport)
    }

    static func fetch(_ source: String, transport: HTTPTransport?) async throws -> String {
        if let transport {
            let (response, _) = try await transport.send { _ in CloudRequest(method: .GET, url: source) }
            guard response.status == 200 else { throw ProximaError(.invalidConfig, "JWKS at \(source) answered HTTP \(response.status)") }
            return response.text
        }
        guard let data = FileManager.default.contents(atPath: source) else {
            throw ProximaError(.invalidConfig, "cannot read the JWKS file \(source)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func collection(_ json: String) async throws -> JWTKeyCollection {
        let keys = JWTKeyCollection()
        do { try await keys.add(jwksJSON: json) } catch {
            throw ProximaError(.invalidConfig, "the JWKS does not parse (every key needs a kid): \(error)")
        }
        return keys
    }

    /// The principal a token names, or `unauthorized` / `forbidden` saying why not.
    public func verify(_ token: String, now: Int64 = Timestamp.nowMicros()) async throws(ProximaError) -> Principal {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.base64URL(parts[0]).flatMap({ try? JSONParser.parse($0) }) else {
            throw ProximaError(.unauthorized, "the bearer token is neither an API key nor a JWT")
        }
        guard let alg = header["alg"]?.string, Self.algorithms.contains(alg) else {
            throw ProximaError(.unauthorized, "JWT algorithm '\(header["alg"]?.string ?? "none")' is not accepted (RS256, ES256, EdDSA)")
        }
        let claims: Claims
        do {
            claims = try await verifySignature(token, kid: header["kid"]?.string)
        } catch {
            throw ProximaError(.unauthorized, "the JWT's signature does not verify against the configured keys")
        }
        let seconds = now / 1_000_000
        guard let exp = claims.numbers["exp"] else { throw ProximaError(.unauthorized, "the JWT has no exp claim") }
        guard seconds < Int64(exp) + settings.leewaySeconds else { throw ProximaError(.unauthorized, "the JWT has expired") }
        if let nbf = claims.numbers["nbf"], seconds + settings.leewaySeconds < Int64(nbf) {
            throw ProximaError(.unauthorized, "the JWT is not valid yet (nbf)")
        }
        guard claims.strings["iss"]?.first == settings.issuer else { throw ProximaError(.unauthorized, "the JWT's issuer is not accepted") }
        guard claims.strings["aud"]?.contains(settings.audience) == true else {
            throw ProximaError(.unauthorized, "the JWT's audience does not include this service")
        }
        guard let tenantName = claims.strings[settings.tenantClaim]?.first, let tenant = try? Tenant(tenantName) else {
            throw ProximaError(.unauthorized, "the JWT names no valid tenant in its '\(settings.tenantClaim)' claim")
        }
        let scopes = (claims.strings["scope"] ?? []).flatMap { $0.split(separator: " ").map(String.init) } + (claims.strings["scp"] ?? [])
        guard let role = Role.fromScopes(scopes) else {
            throw ProximaError(.forbidden, "the JWT grants no proximadb scope (proximadb:read, proximadb:write or proximadb:admin)")
        }
        let subject = claims.strings["sub"]?.first.map { String($0.prefix(64)) } ?? "unknown"
        return Principal(tenant: tenant, role: role, subject: "jwt:\(subject)")
    }

    private func verifySignature(_ token: String, kid: String?) async throws -> Claims {
        let keys = self.keys.withLock { $0 }
        do {
            return try await keys.verify(token, as: Claims.self)
        } catch {
            // A key rotated in at the issuer: refetch a URL's JWKS, at most once a minute.
            guard let transport, let kid, await (try? keys.getKey(for: JWKIdentifier(string: kid))) == nil else { throw error }
            let due = fetchedAt.withLock { at in
                guard ContinuousClock.now - at > .seconds(60) else { return false }
                at = .now
                return true
            }
            guard due else { throw error }
            let fresh = try await Self.collection(try await Self.fetch(settings.jwks, transport: transport))
            self.keys.withLock { $0 = fresh }
            return try await fresh.verify(token, as: Claims.self)
        }
    }

    static func base64URL(_ s: Substring) -> [UInt8]? {
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.utf8.count % 4 != 0 { b += "=" }
        return Data(base64Encoded: b).map(Array.init)
    }
}

/// Every claim of a token that is a number, a string or an array of strings;
/// the verifier checks the ones it needs itself.
struct Claims: JWTPayload {
    var numbers: [String: Double] = [:]
    var strings: [String: [String]] = [:]

    init() {}

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for key in c.allKeys {
            if let n = try? c.decode(Double.self, forKey: key) {
                numbers[key.stringValue] = n
            } else if let s = try? c.decode(String.self, forKey: key) {
                strings[key.stringValue] = [s]
            } else if let a = try? c.decode([String].self, forKey: key) {
                strings[key.stringValue] = a
            }
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (k, v) in numbers { try c.encode(v, forKey: Key(stringValue: k)) }
        for (k, v) in strings { try c.encode(v, forKey: Key(stringValue: k)) }
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
