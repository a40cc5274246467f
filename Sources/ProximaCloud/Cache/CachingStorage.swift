import Synchronization

/// A `CloudStorage` that reads immutable objects through cache tiers
/// (memory, local disk, Redis; nearest first): a hit in a tier is copied into
/// the nearer ones, a miss everywhere is read from the store and written to
/// every tier. The copies are written in the background, so the reader that
/// missed waits for the store only (`settle` waits for them). Only
/// whole-object reads of keys `isImmutable` accepts are cached (segments,
/// index files, WAL objects: written once, never changed); everything else,
/// ranged reads included, goes to the store. A failing tier is a miss, never
/// an error: the store stays the source of truth.
public struct CachingStorage: CloudStorage {
    public let store: any CloudStorage
    public let tiers: [any CloudCache]
    public let isImmutable: @Sendable (String) -> Bool
    private let fills = FillTasks()

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
            fill(Array(tiers[..<i]), key, bytes)
            // Written once: any ETag names the same bytes; the cached copy has none of its own.
            return StoredObject(bytes: bytes, etag: "cached")
        }
        let object = try await store.get(key, range: nil)
        fill(tiers, key, object.bytes)
        return object
    }

    private func fill(_ targets: [any CloudCache], _ key: String, _ bytes: [UInt8]) {
        guard !targets.isEmpty else { return }
        fills.add(Task { for tier in targets { try? await tier.set(key, bytes) } })
    }

    /// Each tier's counters, in Prometheus text format.
    public var metricsText: String {
        let series: [(String, String, String, (CacheStats) -> Int)] = [
            ("proximadb_cache_hits_total", "counter", "Reads a cache tier answered.", { $0.hits }),
            ("proximadb_cache_misses_total", "counter", "Reads a cache tier could not answer.", { $0.misses }),
            ("proximadb_cache_evictions_total", "counter", "Entries a cache tier dropped to stay within its size.", { $0.evictions }),
            ("proximadb_cache_bytes", "gauge", "Bytes a cache tier holds.", { $0.bytes }),
            ("proximadb_cache_entries", "gauge", "Entries a cache tier holds.", { $0.entries }),
        ]
        let stats = tiers.map { ($0.tier, $0.stats) }
        var out = ""
        for (name, type, help, value) in series {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (tier, s) in stats { out += "\(name){tier=\"\(tier)\"} \(value(s))\n" }
        }
        return out
    }

    /// Waits until every copy started so far is written.
    public func settle() async { await fills.waitAll() }

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

/// The background cache writes in flight.
private final class FillTasks: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])

    func add(_ task: Task<Void, Never>) {
        tasks.withLock { list in
            list.removeAll { $0.isCancelled }
            list.append(task)
            if list.count > 256 { list.removeFirst(list.count - 256) }
        }
    }

    func waitAll() async {
        let pending = tasks.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for task in pending { await task.value }
    }
}
