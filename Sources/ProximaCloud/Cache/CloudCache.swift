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

/// Caching parts of large objects: a query reads ranges of a segment, and
/// the tiers fill with the whole object behind it (`CachingStorage`).
public protocol RangedCloudCache: CloudCache {
    /// `range` of the value under `key`; nil when absent, damaged, or shorter than the range.
    func get(_ key: String, range: Range<Int>) async throws -> [UInt8]?
    /// The largest value this tier takes (a bigger one would crowd out everything else).
    var maxValueBytes: Int { get }
    /// Stores a value of `size` bytes read piece by piece through `read`,
    /// without holding it in memory where the tier can (disk).
    func fill(_ key: String, size: Int, read: @escaping @Sendable (Range<Int>) async throws -> [UInt8]) async throws
}

extension RangedCloudCache {
    /// Reads the value whole, then stores it.
    public func fill(_ key: String, size: Int, read: @escaping @Sendable (Range<Int>) async throws -> [UInt8]) async throws {
        guard size <= maxValueBytes else { return }
        let value = try await read(0..<size)
        guard value.count == size else { return }
        try await set(key, value)
    }
}

extension CloudCache {
    /// `range` of a value, through the tier's own ranged read when it has one.
    func get(_ key: String, range: Range<Int>) async throws -> [UInt8]? {
        if let ranged = self as? any RangedCloudCache { return try await ranged.get(key, range: range) }
        guard let value = try await get(key), range.upperBound <= value.count else { return nil }
        return Array(value[range])
    }
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
