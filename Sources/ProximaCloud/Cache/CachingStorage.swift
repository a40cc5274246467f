/// A `CloudStorage` that reads immutable objects through cache tiers
/// (memory, local disk, Redis; nearest first): a hit in a tier is copied into
/// the nearer ones, a miss everywhere is read from the store and written to
/// every tier. Only whole-object reads of keys `isImmutable` accepts are
/// cached (segments, index files, WAL objects: written once, never changed);
/// everything else, ranged reads included, goes to the store. A failing
/// tier is a miss, never an error: the store stays the source of truth.
public struct CachingStorage: CloudStorage {
    public let store: any CloudStorage
    public let tiers: [any CloudCache]
    let isImmutable: @Sendable (String) -> Bool

    public init(store: any CloudStorage, tiers: [any CloudCache], isImmutable: @escaping @Sendable (String) -> Bool) {
        self.store = store
        self.tiers = tiers
        self.isImmutable = isImmutable
    }

    public var description: String { store.description }

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        guard range == nil, !tiers.isEmpty, isImmutable(key) else { return try await store.get(key, range: range) }
        for (i, tier) in tiers.enumerated() {
            guard let bytes = try? await tier.get(key) else { continue }
            for nearer in tiers[..<i] { try? await nearer.set(key, bytes) }
            // Written once: any ETag names the same bytes; the cached copy has none of its own.
            return StoredObject(bytes: bytes, etag: "cached")
        }
        let object = try await store.get(key, range: nil)
        for tier in tiers { try? await tier.set(key, object.bytes) }
        return object
    }

    public func head(_ key: String) async throws -> ObjectInfo { try await store.head(key) }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String {
        try await store.put(key, bytes, condition: condition)
    }

    public func delete(_ key: String) async throws {
        try await store.delete(key)
        for tier in tiers { try? await tier.delete(key) }
    }

    public func delete(keys: [String]) async throws {
        try await store.delete(keys: keys)
        for key in keys { for tier in tiers { try? await tier.delete(key) } }
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await store.list(prefix: prefix, startAfter: startAfter, limit: limit)
    }
}
