import Crypto
import Foundation
import ProximaCore
import ProximaEngine

/// An API key: `pdb_<id>_<secret>`. The id (16 hex digits) names the key in
/// listings, logs and revocations; the secret (32 random bytes, base64url)
/// is shown once at creation and stored only as the SHA-256 of the whole key.
/// Keys carry 256 bits of entropy, so a plain hash is enough (no slow KDF).
public enum APIKey {
    static let prefix = "pdb_"
    static let idLength = 16

    /// A new key and its id.
    public static func generate() -> (key: String, id: String) {
        var rng = SystemRandomNumberGenerator()
        let id = String(hex: (0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (prefix + id + "_" + secret, id)
    }

    /// The id of something shaped like a key, or nil.
    public static func id(of key: String) -> String? {
        let u = Array(key.utf8)
        guard key.hasPrefix(prefix), u.count == prefix.utf8.count + idLength + 1 + 43, u[prefix.utf8.count + idLength] == UInt8(ascii: "_")
        else { return nil }
        let id = String(decoding: u[prefix.utf8.count..<(prefix.utf8.count + idLength)], as: UTF8.self)
        return isId(id) ? id : nil
    }

    /// Whether `s` has the shape of a key id.
    public static func isId(_ s: String) -> Bool {
        s.utf8.count == idLength && s.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    /// Hex SHA-256 of the whole key: what the store keeps.
    public static func hash(_ key: String) -> String {
        String(hex: SHA256.hash(data: Array(key.utf8)))
    }

    /// Compares two hex digests without an early exit, so timing tells nothing about a near miss.
    static func sameDigest(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// What the store keeps of a key: everything but its secret.
public struct APIKeyRecord: Sendable, Equatable {
    public var id: String
    public var tenant: Tenant
    public var role: Role
    public var collections: CollectionPattern?
    public var createdAtMicros: Int64
    public var expiresAtMicros: Int64?
    /// Hex SHA-256 of the whole key.
    public var sha256: String
    /// Per-tenant limits this key's requests are held to.
    public var quotas: Quotas
    /// Set from the revocation marker beside the record.
    public var revokedAtMicros: Int64?

    public init(id: String, tenant: Tenant, role: Role, collections: CollectionPattern?, createdAtMicros: Int64,
                expiresAtMicros: Int64?, sha256: String, quotas: Quotas = Quotas(), revokedAtMicros: Int64? = nil) {
        self.id = id
        self.tenant = tenant
        self.role = role
        self.collections = collections
        self.createdAtMicros = createdAtMicros
        self.expiresAtMicros = expiresAtMicros
        self.sha256 = sha256
        self.quotas = quotas
        self.revokedAtMicros = revokedAtMicros
    }

    public func isExpired(at micros: Int64) -> Bool { expiresAtMicros.map { micros >= $0 } ?? false }

    public var principal: Principal {
        Principal(tenant: tenant, role: role, collections: collections, subject: "key:\(id)", quotas: quotas)
    }

    /// The stored JSON (and what listings show, with `revoked_at`).
    public func json(includingHash: Bool) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "tenant": .string(tenant.name), "role": .string(role.rawValue),
            "collections": collections.map { .string($0.glob) } ?? .null,
            "created_at": .string(Timestamp.rfc3339(micros: createdAtMicros)),
            "expires_at": expiresAtMicros.map { .string(Timestamp.rfc3339(micros: $0)) } ?? .null,
        ]
        if includingHash {
            o["sha256"] = .string(sha256)
            o["created_at_us"] = .int(createdAtMicros)
            o["expires_at_us"] = expiresAtMicros.map { .int($0) } ?? .null
        } else {
            o["revoked_at"] = revokedAtMicros.map { .string(Timestamp.rfc3339(micros: $0)) } ?? .null
        }
        if !quotas.isEmpty { o["quotas"] = quotas.json }
        return .object(o)
    }

    /// Reads a stored record; anything malformed is corruption, not a key.
    public init(json: JSONValue) throws(ProximaError) {
        func bad(_ why: String) -> ProximaError { ProximaError(.storageCorrupted, "API key record: \(why)") }
        guard let id = json["id"]?.string, APIKey.isId(id) else { throw bad("no id") }
        guard let tenantName = json["tenant"]?.string, let tenant = try? Tenant(tenantName) else { throw bad("no tenant") }
        guard let role = json["role"]?.string.flatMap(Role.init(rawValue:)) else { throw bad("no role") }
        guard let hash = json["sha256"]?.string, hash.utf8.count == 64 else { throw bad("no hash") }
        guard let created = json["created_at_us"]?.integer else { throw bad("no creation time") }
        self.id = id
        self.tenant = tenant
        self.role = role
        self.collections = try json["collections"]?.string.map { glob throws(ProximaError) in try CollectionPattern(glob) }
        self.createdAtMicros = created
        self.expiresAtMicros = json["expires_at_us"]?.integer
        self.sha256 = hash
        self.quotas = try Quotas(parsing: json["quotas"] ?? .null)
        self.revokedAtMicros = nil
    }
}
