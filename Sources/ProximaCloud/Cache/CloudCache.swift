import ProximaCore
import Synchronization

/// The cache seam, the third of the serverless core's traits beside
/// `CloudStorage` and `CloudQueue`: bytes by key, optionally for a while.
/// Objects in the store are written once, so a cache of them needs no
/// invalidation; only pointers (manifest, catalog) are revalidated, by the
/// engine, not here. Tiers: `MemoryCache` (this process), `DiskCache` (local
/// NVMe or Lambda's /tmp, read through mmap, surviving restarts),
/// `RedisCache` (shared between processes).
public protocol CloudCache: Sendable {
    /// The bytes stored under `key`, or nil when absent, expired or damaged.
    func get(_ key: String) async throws -> [UInt8]?
    /// Stores `value`; with `ttlSeconds`, for that long at most.
    func set(_ key: String, _ value: [UInt8], ttlSeconds: Int?) async throws
    func delete(_ key: String) async throws
    /// Removes everything this cache holds.
    func clear() async throws
    /// Hits, misses, bytes and evictions so far.
    var stats: CacheStats { get }
    /// Names the tier, without secrets.
    var description: String { get }
    /// The tier's kind for metric labels: "memory", "disk" or "redis".
    var tier: String { get }
}

extension CloudCache {
    public func set(_ key: String, _ value: [UInt8]) async throws { try await set(key, value, ttlSeconds: nil) }
}

/// What a cache tier reports for `/metrics`.
public struct CacheStats: Sendable, Equatable {
    public var hits = 0
    public var misses = 0
    /// Entries dropped to stay within the size bound.
    public var evictions = 0
    /// Bytes held now.
    public var bytes = 0
    public var entries = 0

    public init() {}
}

/// Counters shared by the tiers' implementations.
final class CacheCounters: Sendable {
    private let state = Mutex(CacheStats())

    var snapshot: CacheStats { state.withLock { $0 } }

    func hit() { state.withLock { $0.hits += 1 } }
    func miss() { state.withLock { $0.misses += 1 } }
    func update(_ change: (inout CacheStats) -> Void) { state.withLock { change(&$0) } }
}
