import Synchronization

/// A `CloudStorage` that reads immutable objects through cache tiers
/// (memory, local disk, Redis; nearest first): a hit in a tier is copied into
/// the nearer ones, a miss everywhere is read from the store and written to
/// every tier. The copies are written in the background, so the reader that
/// missed waits for the store only (`settle` waits for them). Only
/// reads of keys `isImmutable` accepts are cached (segments, index files,
/// WAL objects: written once, never changed); a ranged read that misses
/// fills the tiers with the whole object in the background; everything
/// else goes to the store. A failing tier is a miss, never
/// an error: the store stays the source of truth.
public struct CachingStorage: CloudStorage {
    public private(set) var store: any CloudStorage
    public let tiers: [any CloudCache]
    public let isImmutable: @Sendable (String) -> Bool
    /// How long a whole-object fill waits after the miss that asked for it.
    /// The cold query that missed has its own reads and decoding to do on the
    /// same cores and disk: at 1M x 128 fills started at once (three segments
    /// and their indexes, 750 MB to the disk tier) took a cold query from
    /// 0.5 s to 1.1-1.5 s.
    public let fillDelay: Duration
    private let fills = FillTasks()
    private let misses = InFlightReads()

    public init(
        store: any CloudStorage, tiers: [any CloudCache], isImmutable: @escaping @Sendable (String) -> Bool,
        fillDelay: Duration = .seconds(1)
    ) {
        self.store = store
        self.tiers = tiers
        self.isImmutable = isImmutable
        self.fillDelay = fillDelay
    }

    public var description: String { store.description }

    /// The same cache over `store` (the store wrapped, say to count its
    /// requests): tiers, fills in flight and coalesced misses shared, so
    /// `settle` on either waits for the fills of both.
    public func over(_ store: any CloudStorage) -> CachingStorage {
        var copy = self
        copy.store = store
        return copy
    }

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        guard !tiers.isEmpty, isImmutable(key) else { return try await store.get(key, range: range) }
        if let range { return try await get(key, range: range) }
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

    /// A range of an immutable object: from the nearest tier holding it,
    /// else from the store, once for all concurrent readers of the same
    /// range; a miss starts filling the tiers with the whole object in the
    /// background (streamed to disk), so the next reads are local.
    private func get(_ key: String, range: Range<Int>) async throws -> StoredObject {
        for tier in tiers {
            if let bytes = try? await tier.get(key, range: range) { return StoredObject(bytes: bytes, etag: "cached") }
        }
        let store = self.store
        let object = try await misses.coalesce(key + "#\(range.lowerBound)-\(range.upperBound)") { try await store.get(key, range: range) }
        fillWhole(key)
        return object
    }

    /// Copies the whole object into every tier that takes one its size,
    /// once per key at a time; detached, so its requests count toward no query.
    private func fillWhole(_ key: String) {
        guard fills.begin(key) else { return }
        let (store, tiers, fills, delay) = (self.store, self.tiers, self.fills, fillDelay)
        fills.add(
            Task.detached(priority: .background) {
                defer { fills.end(key) }
                try? await Task.sleep(for: delay)
                guard let size = try? await store.head(key).size else { return }
                let takers = tiers.compactMap { $0 as? any RangedCloudCache }.filter { size <= $0.maxValueBytes }
                // Too large for every tier: later misses of it need not ask its size again.
                if takers.isEmpty { fills.neverFill(key) }
                for tier in takers {
                    try? await tier.fill(key, size: size) { r in try await store.get(key, range: r).bytes }
                }
            })
    }

    /// The local-disk tier, when there is one.
    public var diskTier: DiskCache? { tiers.lazy.compactMap { $0 as? DiskCache }.first }

    /// `key` (immutable, `size` bytes) mapped from the local-disk tier,
    /// copied there whole first when it is missing; nil without a disk tier,
    /// when the object is too large for it, or when the copy fails. For
    /// whoever searches an object in place (a graph), in the background:
    /// the copy is one read of the whole object.
    public func mapLocally(_ key: String, size: Int) async -> MappedValue? {
        guard let disk = diskTier, isImmutable(key), size <= disk.maxValueBytes else { return nil }
        let store = self.store
        return await mapLocally(key, on: disk) {
            try await disk.fill(key, size: size) { r in try await store.get(key, range: r).bytes }
        }
    }

    /// A value made from an immutable object (`transform` of its bytes,
    /// read whole from the store) and kept in the local-disk tier under
    /// `localKey`, mapped: for an object stored compact and searched
    /// expanded. The disk tier checksums what it keeps; what the store gave
    /// is `transform`'s to check.
    public func mapLocally(
        _ localKey: String, madeFrom key: String, by transform: @escaping @Sendable ([UInt8]) throws -> [UInt8]
    ) async -> MappedValue? {
        guard let disk = diskTier, isImmutable(key) else { return nil }
        let store = self.store
        return await mapLocally(localKey, on: disk) {
            try await disk.set(localKey, try transform(try await store.get(key, range: nil).bytes))  // too large: not kept
        }
    }

    /// `key` mapped from `disk`, after `produce` puts it there when it is
    /// missing (once: concurrent callers wait for the one producing it).
    private func mapLocally(_ key: String, on disk: DiskCache, produce: () async throws -> Void) async -> MappedValue? {
        var produced = false
        for _ in 0..<600 {
            if let mapped = try? await LocalDirectoryStorage.run({ disk.map(key) }) { return mapped }
            if produced { return nil }  // produced, then evicted or damaged at once: not again
            // A fill of it already running (a ranged miss started one): wait for it rather than copy twice.
            guard fills.begin(key) else {
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                defer { fills.end(key) }
                try await produce()
                produced = true
            } catch {
                return nil
            }
        }
        return nil
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

/// Store reads in flight, by key and range: concurrent misses for the same
/// bytes share one request.
private final class InFlightReads: Sendable {
    private let reads = Mutex<[String: Task<StoredObject, any Error>]>([:])

    func coalesce(_ id: String, _ read: @escaping @Sendable () async throws -> StoredObject) async throws -> StoredObject {
        let (task, mine) = reads.withLock { r -> (Task<StoredObject, any Error>, Bool) in
            if let t = r[id] { return (t, false) }
            let t = Task { try await read() }
            r[id] = t
            return (t, true)
        }
        defer { if mine { reads.withLock { $0[id] = nil } } }
        return try await task.value
    }
}

/// The background cache writes in flight.
private final class FillTasks: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])
    private let wholeFills = Mutex<Set<String>>([])

    private let tooLarge = Mutex<Set<String>>([])

    /// Whether a whole-object fill of `key` may start (none is running, and no tier refused its size).
    func begin(_ key: String) -> Bool {
        !tooLarge.withLock { $0.contains(key) } && wholeFills.withLock { $0.insert(key).inserted }
    }
    func end(_ key: String) { _ = wholeFills.withLock { $0.remove(key) } }
    func neverFill(_ key: String) {
        tooLarge.withLock { keys in
            if keys.count >= 10_000 { keys.removeAll() }
            keys.insert(key)
        }
    }

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
