import ProximaCloud
import ProximaCore
import ProximaEngine

/// API keys in the object store, so every stateless handler sees one set:
/// `system/keys/<id>.json` (the record, written once) and, after a revocation,
/// `system/keys/<id>.revoked` beside it. Both are immutable once written, so
/// a handler that has read one never reads it again; one LIST tells what changed.
public struct KeyStore: Sendable {
    public static let prefix = "system/keys/"
    let storage: any CloudStorage

    public init(storage: any CloudStorage) { self.storage = storage }

    static func recordKey(_ id: String) -> String { prefix + id + ".json" }
    static func revocationKey(_ id: String) -> String { prefix + id + ".revoked" }

    /// The longest lifetime a key may be given.
    public static let maxLifetimeSeconds: Int64 = 100 * 365 * 86_400

    /// Creates a key; returns its secret (shown once) and what the store keeps.
    public func create(
        tenant: Tenant, role: Role, collections: CollectionPattern? = nil, expiresInSeconds: Int64? = nil,
        quotas: Quotas = Quotas(), now: Int64 = Timestamp.nowMicros()
    ) async throws -> (key: String, record: APIKeyRecord) {
        // Checked here, for the CLI and the route alike: seconds past this overflow microseconds.
        if let seconds = expiresInSeconds, !(1...Self.maxLifetimeSeconds).contains(seconds) {
            throw ProximaError(.invalidRequest, "a key's lifetime is 1 to \(Self.maxLifetimeSeconds) seconds (100 years)")
        }
        let (key, id) = APIKey.generate()
        let record = APIKeyRecord(
            id: id, tenant: tenant, role: role, collections: collections, createdAtMicros: now,
            expiresAtMicros: expiresInSeconds.map { now + $0 * 1_000_000 }, sha256: APIKey.hash(key), quotas: quotas)
        try await storage.put(Self.recordKey(id), JSONWriter.encode(record.json(includingHash: true)), condition: .createOnly)
        return (key, record)
    }

    /// Every key, with revocations applied. Records already in `known` are not
    /// read again (they never change); only new records and new revocations are.
    public func load(known: [String: APIKeyRecord] = [:]) async throws -> [String: APIKeyRecord] {
        var records: [String: APIKeyRecord] = [:]
        var toRead: [String] = []
        var revoked: [String] = []
        for object in try await storage.listAll(prefix: Self.prefix) {
            let name = object.key.dropFirst(Self.prefix.count)
            if name.hasSuffix(".json") {
                let id = String(name.dropLast(5))
                guard APIKey.isId(id) else { continue }
                if let k = known[id] { records[id] = k } else { toRead.append(object.key) }
            } else if name.hasSuffix(".revoked") {
                revoked.append(String(name.dropLast(8)))
            }
        }
        let read = try await withThrowingTaskGroup(of: APIKeyRecord.self) { group in
            for key in toRead { group.addTask { try APIKeyRecord(json: try JSONParser.parse(try await storage.get(key).bytes)) } }
            var out: [APIKeyRecord] = []
            for try await r in group { out.append(r) }
            return out
        }
        for r in read { records[r.id] = r }
        for id in revoked where records[id] != nil && records[id]!.revokedAtMicros == nil {
            let marker = try await storage.get(Self.revocationKey(id)).bytes
            records[id]!.revokedAtMicros = (try? JSONParser.parse(marker))?["revoked_at_us"]?.integer ?? 0
        }
        return records
    }

    /// Revokes the key named by its id or by the key itself. With `tenant`,
    /// only that tenant's keys can be named (another's is `not_found`).
    @discardableResult
    public func revoke(_ idOrKey: String, tenant: Tenant? = nil, now: Int64 = Timestamp.nowMicros()) async throws -> APIKeyRecord {
        guard let id = APIKey.isId(idOrKey) ? idOrKey : APIKey.id(of: idOrKey) else {
            throw ProximaError(.invalidRequest, "name a key by its id (16 hex digits) or by the key itself")
        }
        let notFound = ProximaError(.notFound, "no key with id \(id)")
        var record: APIKeyRecord
        do {
            record = try APIKeyRecord(json: try JSONParser.parse(try await storage.get(Self.recordKey(id)).bytes))
        } catch let e as StorageError where e.kind == .notFound {
            throw notFound
        }
        if let tenant, record.tenant != tenant { throw notFound }
        do {
            try await storage.put(Self.revocationKey(id), JSONWriter.encode(["revoked_at_us": .int(now)]), condition: .createOnly)
            record.revokedAtMicros = now
        } catch let e as StorageError where e.kind == .preconditionFailed {
            // Already revoked: say when.
            record.revokedAtMicros = (try? JSONParser.parse(try await storage.get(Self.revocationKey(id)).bytes))?["revoked_at_us"]?.integer
        }
        return record
    }
}
