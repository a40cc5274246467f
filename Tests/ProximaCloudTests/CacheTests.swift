import Foundation
import ProximaTesting
import Testing
@testable import ProximaCloud
@testable import ProximaCore

/// The three cache tiers: the shared contract, then what each adds.
@Suite struct CacheTests {
    func temporaryDirectory() -> String { NSTemporaryDirectory() + "proximadb-cache-" + UUID().uuidString }

    @Test func memoryCacheConforms() async throws {
        try await CacheConformance.run(MemoryCache(capacityBytes: 16 << 20), prefix: "c/")
    }

    @Test func diskCacheConforms() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await CacheConformance.run(try DiskCache(path: dir, capacityBytes: 16 << 20), prefix: "c/")
    }

    @Test func redisCacheConforms() async throws {
        let redis = try Emulators.redis.get()
        try await CacheConformance.run(try RedisCache(url: redis["url"] + "?prefix=conformance-\(UUID().uuidString.prefix(8)):"), prefix: "c/")
    }

    @Test func memoryCacheEvictsTheLeastRecentlyUsedAndExpires() async throws {
        let clock = ManualClock()
        let cache = MemoryCache(capacityBytes: 300, clock: clock)
        for k in ["a", "b", "c"] { try await cache.set(k, [UInt8](repeating: 1, count: 100)) }
        _ = try await cache.get("a")  // b is now the least recently used
        try await cache.set("d", [UInt8](repeating: 2, count: 100))
        let (a, b, c, d) = (try await cache.get("a"), try await cache.get("b"), try await cache.get("c"), try await cache.get("d"))
        #expect(b == nil && a != nil && c != nil && d != nil)
        #expect(cache.stats.evictions == 1 && cache.stats.bytes == 300)
        try await cache.set("t", [9], ttlSeconds: 10)
        clock.advance(seconds: 9.999)
        #expect(try await cache.get("t") == [9])
        clock.advance(seconds: 0.001)
        #expect(try await cache.get("t") == nil)
        try await cache.set("huge", [UInt8](repeating: 0, count: 301))
        #expect(try await cache.get("huge") == nil, "a value over the bound is not cached")
    }

    @Test func diskCacheSurvivesRestartsAndEvicts() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        var cache = try DiskCache(path: dir, capacityBytes: 900, clock: clock)
        try await cache.set("a", [UInt8](repeating: 1, count: 300))
        try await cache.set("b", [UInt8](repeating: 2, count: 300), ttlSeconds: 60)
        cache = try DiskCache(path: dir, capacityBytes: 900, clock: clock)
        #expect(try await cache.get("a") == [UInt8](repeating: 1, count: 300), "entries survive a restart")
        #expect(cache.stats.entries == 2)
        try await cache.set("c", [UInt8](repeating: 3, count: 300))  // b is the least recently used
        #expect(try await cache.get("b") == nil && cache.stats.evictions == 1)
        #expect(cache.stats.bytes <= 900)
        try await cache.set("t", [4], ttlSeconds: 5)
        clock.advance(seconds: 5)
        #expect(try await cache.get("t") == nil, "expired on disk too")
    }

    /// Ranged reads go through files held open: none of them outlives its
    /// entry (deleted, replaced, evicted or expired reads miss or read the new value).
    @Test func diskCacheRangedReadsHoldNoStaleFile() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        let cache = try DiskCache(path: dir, capacityBytes: 900, clock: clock)
        try await cache.set("a", [UInt8](repeating: 1, count: 300))
        #expect(try await cache.get("a", range: 10..<20) == [UInt8](repeating: 1, count: 10))
        #expect(try await cache.get("a", range: 295..<301) == nil, "past the value")
        try await cache.delete("a")
        #expect(try await cache.get("a", range: 10..<20) == nil, "deleted")
        try await cache.set("a", [UInt8](repeating: 2, count: 300))
        #expect(try await cache.get("a", range: 0..<3) == [2, 2, 2], "replaced: the new value")
        try await cache.set("b", [UInt8](repeating: 3, count: 300))
        try await cache.set("c", [UInt8](repeating: 4, count: 300))  // a is the least recently used
        #expect(try await cache.get("a", range: 0..<3) == nil, "evicted")
        #expect(try await cache.get("c", range: 0..<3) == [4, 4, 4])
        try await cache.set("t", [5, 5], ttlSeconds: 5)
        #expect(try await cache.get("t", range: 0..<2) == [5, 5])
        clock.advance(seconds: 5)
        #expect(try await cache.get("t", range: 0..<2) == nil, "expired")
    }

    /// A process killed mid-write leaves a temporary, never a torn entry; a
    /// damaged entry (a flipped byte, a truncation) reads as a miss and goes.
    @Test func diskCacheNeverServesATornOrDamagedEntry() async throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cache = try DiskCache(path: dir, capacityBytes: 1 << 20)
        let value = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try await cache.set("segment/0001/index.ivf", value)
        let file = dir + "/entries/" + DiskCache.fileName("segment/0001/index.ivf")
        let whole = try Data(contentsOf: URL(fileURLWithPath: file))
        for damage in [Data(whole.prefix(whole.count - 1)), { var d = whole; d[d.count - 100] ^= 0x40; return d }(), { var d = whole; d[20] ^= 1; return d }(), Data()] {
            try damage.write(to: URL(fileURLWithPath: file))
            #expect(try await cache.get("segment/0001/index.ivf") == nil)
            #expect(!FileManager.default.fileExists(atPath: file), "a damaged entry is removed")
        }
        // What a killed writer leaves: a partial temporary. A new process removes it and serves nothing from it.
        try Data(whole.prefix(100)).write(to: URL(fileURLWithPath: dir + "/tmp/partial-write"))
        let reopened = try DiskCache(path: dir, capacityBytes: 1 << 20)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/tmp").isEmpty)
        #expect(try await reopened.get("segment/0001/index.ivf") == nil)
        try await reopened.set("segment/0001/index.ivf", value)
        #expect(try await reopened.get("segment/0001/index.ivf") == value)
    }

    /// Two handlers sharing Redis: what one stored, the other reads; a wrong
    /// password is refused (reads miss); clear removes only this prefix.
    @Test func redisIsSharedAuthenticatedAndPrefixed() async throws {
        let redis = try Emulators.redis.get()
        let prefix = "shared-\(UUID().uuidString.prefix(8)):"
        let first = try RedisCache(url: redis["url"] + "?prefix=" + prefix)
        let second = try RedisCache(url: redis["url"] + "?prefix=" + prefix)
        // No expiry here: under the full suite a starved test can take minutes between two lines.
        try await first.set("manifest/7", Array("seven".utf8))
        #expect(try await second.get("manifest/7") == Array("seven".utf8))
        let intruder = try RedisCache(url: "redis://:wrong-password@\(redis["host"]):\(redis["port"])?prefix=" + prefix)
        #expect(try await intruder.get("manifest/7") == nil)
        await #expect(throws: (any Error).self) { try await intruder.delete("manifest/7") }
        let other = try RedisCache(url: redis["url"] + "?prefix=other-\(UUID().uuidString.prefix(8)):")
        try await other.set("keep", [1])
        try await first.clear()
        #expect(try await second.get("manifest/7") == nil)
        #expect(try await other.get("keep") == [1])
        guard case .integer(let ttl) = try await first.command(["TTL", "other-x"]) else { Issue.record("TTL reply"); return }
        #expect(ttl == -2)
        try await first.set("ttl", [1], ttlSeconds: 86_400)
        guard case .integer(let left) = try await first.command(["TTL", prefix + "ttl"]) else { Issue.record("TTL reply"); return }
        #expect(left > 0 && left <= 86_400)
    }

    /// Immutable objects, and ranges of them, come from the nearest tier
    /// that has them; the rest from the store. The store's semantics are unchanged.
    @Test func cachingStorageReadsImmutableObjectsThroughItsTiers() async throws {
        let store = MemoryStorage()
        let near = MemoryCache(capacityBytes: 1 << 20), far = MemoryCache(capacityBytes: 1 << 20)
        let cached = CachingStorage(store: store, tiers: [near, far]) { $0.hasPrefix("frozen/") }
        try await StorageConformance.run(cached, prefix: "conformance/")
        try await store.put("frozen/a", Array("immutable".utf8))
        try await store.put("live/b", Array("changes".utf8))
        let before = store.faults.calls(.get)
        for _ in 0..<3 {
            #expect(try await cached.get("frozen/a").bytes == Array("immutable".utf8))
            await cached.settle()
        }
        #expect(store.faults.calls(.get) == before + 1, "one store read, then the cache")
        for _ in 0..<3 { _ = try await cached.get("live/b") }
        #expect(store.faults.calls(.get) == before + 4, "mutable keys always go to the store")
        #expect(try await cached.get("frozen/a", range: 2..<5).bytes == Array("mut".utf8))
        #expect(store.faults.calls(.get) == before + 4, "ranged reads of a cached object come from a tier")
        // A ranged miss reads the range from the store and fills the tiers with the whole object behind it.
        try await store.put("frozen/big", Array(0..<200))
        #expect(try await cached.get("frozen/big", range: 10..<20).bytes == Array(10..<20))
        #expect(store.faults.calls(.get) == before + 5)
        await cached.settle()
        #expect(try await near.get("frozen/big") == Array(0..<200))
        #expect(try await far.get("frozen/big") == Array(0..<200))
        let filled = store.faults.calls(.get)
        #expect(try await cached.get("frozen/big", range: 150..<200).bytes == Array(150..<200))
        #expect(store.faults.calls(.get) == filled, "then ranges come from the tiers")
        // A far hit fills the near tier; a failing store does not matter while a tier has the object.
        try await near.clear()
        #expect(try await cached.get("frozen/a").bytes == Array("immutable".utf8))
        await cached.settle()
        #expect(try await near.get("frozen/a") != nil)
        store.faults.fail(.get, count: 10)
        #expect(try await cached.get("frozen/a").bytes == Array("immutable".utf8))
        // Deleting through it removes the cached copies too.
        try await cached.delete("frozen/a")
        #expect(try await near.get("frozen/a") == nil)
        #expect(try await far.get("frozen/a") == nil)
    }
}
