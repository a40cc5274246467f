import Crypto
import Foundation
import JWTKit
import Testing
@testable import ProximaAuth
@testable import ProximaCore
@testable import ProximaEngine
import ProximaTesting

/// API keys in a store, the checks a credential goes through, and the token buckets.
@Suite struct GatekeeperTests {
    func gate(_ storage: MemoryStorage, policy: AuthPolicy = AuthPolicy(allowAnonymous: true), maxAge: Duration = .zero) -> Gatekeeper {
        Gatekeeper(policy: policy, keys: KeyRing(store: KeyStore(storage: storage), refreshAfter: .zero, maxAge: maxAge))
    }

    func failure(_ body: () async throws -> Principal) async -> ProximaError? {
        do { _ = try await body() } catch { return error as? ProximaError }
        return nil
    }

    @Test func patternsMatchWholeNames() throws {
        let p = try CollectionPattern("docs_*")
        #expect(p.matches("docs_") && p.matches("docs_2024") && !p.matches("doc") && !p.matches("other") && !p.matches("xdocs_1"))
        let q = try CollectionPattern("a?c*z")
        #expect(q.matches("abcz") && q.matches("abc_long_z") && !q.matches("acz") && !q.matches("abczq"))
        #expect(try CollectionPattern("*").matches("anything"))
        #expect(throws: ProximaError.self) { try CollectionPattern("../x") }
    }

    @Test func keysAuthenticateUntilRevokedOrExpired() async throws {
        let storage = MemoryStorage()
        let store = KeyStore(storage: storage)
        let gate = gate(storage)
        // No key yet: anonymous access (the policy allows it), as the default tenant.
        #expect(try await gate.authenticate(nil) == .anonymous)

        let (key, record) = try await store.create(tenant: try Tenant("acme"), role: .write, collections: try CollectionPattern("docs_*"))
        #expect(APIKey.id(of: key) == record.id)
        let stored = try await storage.get(KeyStore.recordKey(record.id)).bytes
        #expect(!String(decoding: stored, as: UTF8.self).contains(key.dropFirst(21)), "the secret is not stored")

        // Once a key exists, no credential is no access.
        #expect(await failure { try await gate.authenticate(nil) }?.code == .unauthorized)
        let who = try await gate.authenticate(key)
        #expect(who.tenant.name == "acme" && who.role == .write && who.subject == "key:\(record.id)")
        #expect(throws: ProximaError.self) { try who.authorize(.admin) }
        #expect(throws: ProximaError.self) { try who.authorize(.read, collection: "other") }
        try who.authorize(.write, collection: "docs_1")

        // The right id with the wrong secret, and garbage, are unknown keys.
        var forged = Array(key.utf8)
        forged[forged.count - 1] = forged.last == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(await failure { try await gate.authenticate(String(decoding: forged, as: UTF8.self)) }?.code == .unauthorized)
        #expect(await failure { try await gate.authenticate("pdb_nonsense") }?.code == .unauthorized)

        try await store.revoke(record.id)
        #expect(await failure { try await gate.authenticate(key) }?.message.contains("revoked") == true)
        // Revoking the last key does not open the server again.
        #expect(await failure { try await gate.authenticate(nil) }?.code == .unauthorized)

        let (short, _) = try await store.create(tenant: .default, role: .read, expiresInSeconds: 60, now: Timestamp.nowMicros() - 61_000_000)
        #expect(await failure { try await gate.authenticate(short) }?.message.contains("expired") == true)
    }

    @Test func anotherProcessSeesRevocationsWithinTheMaximumAge() async throws {
        let storage = MemoryStorage()
        let ring = KeyRing(store: KeyStore(storage: storage), refreshAfter: .milliseconds(100), maxAge: .milliseconds(300))
        let gate = Gatekeeper(policy: AuthPolicy(), keys: ring)
        let (key, record) = try await KeyStore(storage: storage).create(tenant: .default, role: .read)
        try await Task.sleep(for: .milliseconds(350))
        _ = try await gate.authenticate(key)
        // Revoked by someone else (the CLI, another handler): refused once the set is older than maxAge.
        try await KeyStore(storage: storage).revoke(key)
        try await Task.sleep(for: .milliseconds(350))
        #expect(await failure { try await gate.authenticate(key) }?.code == .unauthorized)
        #expect(record.revokedAtMicros == nil)
    }

    @Test func withoutAnonymousAccessNoCredentialIsRefusedEvenBeforeTheFirstKey() async throws {
        let gate = gate(MemoryStorage(), policy: AuthPolicy(allowAnonymous: false))
        #expect(await failure { try await gate.authenticate(nil) }?.code == .unauthorized)
        let required = self.gate(MemoryStorage(), policy: AuthPolicy(required: true, allowAnonymous: true))
        #expect(await failure { try await required.authenticate(nil) }?.code == .unauthorized)
    }

    @Test func credentialsComeFromBearerOrXAPIKey() throws {
        #expect(try Gatekeeper.credential(authorization: "Bearer abc", apiKey: nil) == "abc")
        #expect(try Gatekeeper.credential(authorization: "bearer  abc ", apiKey: nil) == "abc")
        #expect(try Gatekeeper.credential(authorization: nil, apiKey: "k") == "k")
        #expect(throws: ProximaError.self) { try Gatekeeper.credential(authorization: "Basic dXNlcjpwYXNz", apiKey: nil) }
    }

    @Test func tokenBucketsAdmitTheRateAndBurst() throws {
        let buckets = TokenBuckets(try RateLimit(parsing: "10:5"))
        let t0 = ContinuousClock.now
        let first = (0..<7).map { _ in buckets.take("k", now: t0) }
        #expect(first.filter(\.admitted).count == 5)
        #expect(first.last!.retryAfterSeconds == 1)
        // 10 per second: after 0.3 s three more.
        let later = (0..<4).map { _ in buckets.take("k", now: t0 + .milliseconds(300)) }
        #expect(later.filter(\.admitted).count == 3)
        // Another name has its own bucket.
        #expect(buckets.take("other", now: t0).admitted)
        #expect(throws: ProximaError.self) { try RateLimit(parsing: "0") }
        #expect(throws: ProximaError.self) { try RateLimit(parsing: "5:0") }
        #expect(try RateLimit(parsing: "2.5") == RateLimit(perSecond: 2.5, burst: 2.5))
    }

    // MARK: JWT

    struct Signer {
        let keys = JWTKeyCollection()
        let jwks: String

        init() async throws {
            let ec = ES256PrivateKey()
            let edKey = Curve25519.Signing.PrivateKey()
            let ed = EdDSA.PrivateKey(backing: edKey)
            await keys.add(ecdsa: ec, kid: "ec1")
            await keys.add(eddsa: ed, kid: "ed1")
            let (x, y) = ec.publicKey.parameters!
            let edX = Data(edKey.publicKey.rawRepresentation).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            jwks = """
                {"keys":[{"kty":"EC","crv":"P-256","x":"\(x)","y":"\(y)","kid":"ec1","alg":"ES256"},
                         {"kty":"OKP","crv":"Ed25519","x":"\(edX)","kid":"ed1","alg":"EdDSA"}]}
                """
        }

        func token(_ kid: String, _ claims: [String: Any]) async throws -> String {
            var c = Claims()
            for (k, v) in claims {
                if let n = v as? Double { c.numbers[k] = n } else if let n = v as? Int { c.numbers[k] = Double(n) }
                else if let s = v as? String { c.strings[k] = [s] } else if let a = v as? [String] { c.strings[k] = a }
            }
            return try await keys.sign(c, kid: JWKIdentifier(string: kid))
        }
    }

    @Test func jwtsVerifyWithTheirClaimsChecked() async throws {
        let signer = try await Signer()
        let path = NSTemporaryDirectory() + "jwks-\(UUID().uuidString).json"
        try signer.jwks.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let verifier = try await JWTVerifier.load(JWTSettings(jwks: path, issuer: "https://issuer", audience: "proximadb"))
        let now = Int(Date().timeIntervalSince1970)
        let good: [String: Any] = ["iss": "https://issuer", "aud": "proximadb", "exp": now + 600, "tenant": "acme", "scope": "openid proximadb:write", "sub": "u1"]

        for kid in ["ec1", "ed1"] {
            let who = try await verifier.verify(try await signer.token(kid, good))
            #expect(who.tenant.name == "acme" && who.role == .write && who.subject == "jwt:u1")
        }
        func refused(_ claims: [String: Any], _ code: ProximaError.Code = .unauthorized) async throws {
            let token = try await signer.token("ec1", claims)
            let error = await failure { try await verifier.verify(token) }
            #expect(error?.code == code, "\(claims)")
        }
        var c = good; c["exp"] = now - 3600; try await refused(c)
        c = good; c["exp"] = nil; try await refused(c)
        c = good; c["nbf"] = now + 3600; try await refused(c)
        c = good; c["iss"] = "https://elsewhere"; try await refused(c)
        c = good; c["aud"] = ["other", "api"]; try await refused(c)
        c = good; c["tenant"] = "../etc"; try await refused(c)
        c = good; c["scope"] = "openid"; try await refused(c, .forbidden)
        c = good; c["aud"] = ["other", "proximadb"]; c["scope"] = nil; c["scp"] = ["proximadb:admin"]
        #expect(try await verifier.verify(try await signer.token("ec1", c)).role == .admin)

        // Tampered payload: the signature no longer matches.
        let token = try await signer.token("ec1", good)
        let parts = token.split(separator: ".")
        var payload = try JSONParser.parse(JWTVerifier.base64URL(parts[1])!)
        if case .object(var o) = payload { o["tenant"] = "victim"; payload = .object(o) }
        let forged = parts[0] + "." + b64url(JSONWriter.encode(payload)) + "." + parts[2]
        #expect(await failure { try await verifier.verify(String(forged)) }?.code == .unauthorized)
        // alg none, and HMAC keyed with what an attacker can read.
        let none = b64url(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + parts[1] + "."
        #expect(await failure { try await verifier.verify(none) }?.message.contains("not accepted") == true)
        let hsHeader = b64url(Array(#"{"alg":"HS256","typ":"JWT","kid":"ec1"}"#.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array((hsHeader + "." + parts[1]).utf8), using: SymmetricKey(data: Array(signer.jwks.utf8)))
        let hs = hsHeader + "." + parts[1] + "." + b64url(Array(mac))
        #expect(await failure { try await verifier.verify(hs) }?.code == .unauthorized)
        // A token signed by a key the JWKS does not hold.
        let stranger = try await Signer()
        let foreign = try await stranger.token("ec1", good)
        #expect(await failure { try await verifier.verify(foreign) }?.code == .unauthorized)
    }

    func b64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
