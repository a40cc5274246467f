import ProximaCore
import Synchronization

/// The in-process tier: least recently used entries go first once the bytes
/// held would pass `capacityBytes`. Expiry is read off a `WallClock`.
public final class MemoryCache: CloudCache {
    private struct Entry {
        var value: [UInt8]
        var expiresAt: Int64?
        /// Recency: a larger tick was used more recently.
        var tick: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// tick -> key, oldest first when iterated in order of ticks.
        var order: [UInt64: String] = [:]
        var nextTick: UInt64 = 0
        var bytes = 0
        var oldest: UInt64 = 0
    }

    public let capacityBytes: Int
    let clock: any WallClock
    private let state = Mutex(State())
    private let counters = CacheCounters()

    public init(capacityBytes: Int, clock: any WallClock = SystemClock()) {
        self.capacityBytes = max(0, capacityBytes)
        self.clock = clock
    }

    public var tier: String { "memory" }
    public var description: String { "memory (\(capacityBytes) bytes)" }

    public var stats: CacheStats { counters.snapshot }

    public func get(_ key: String) async throws -> [UInt8]? {
        let now = clock.nowMicros()
        let value: [UInt8]? = state.withLock { s in
            guard var e = s.entries[key] else { return nil }
            if let t = e.expiresAt, t <= now {
                Self.remove(key, from: &s)
                return nil
            }
            s.order[e.tick] = nil
            e.tick = s.nextTick
            s.nextTick += 1
            s.order[e.tick] = key
            s.entries[key] = e
            return e.value
        }
        if value == nil { counters.miss() } else { counters.hit() }
        return value
    }

    public func set(_ key: String, _ value: [UInt8], ttlSeconds: Int?) async throws {
        guard value.count <= capacityBytes else { return }  // would evict everything for one entry
        let expiresAt = ttlSeconds.map { clock.nowMicros() + Int64($0) * 1_000_000 }
        let (evicted, bytes, count) = state.withLock { s in
            Self.remove(key, from: &s)
            let tick = s.nextTick
            s.nextTick += 1
            s.entries[key] = Entry(value: value, expiresAt: expiresAt, tick: tick)
            s.order[tick] = key
            s.bytes += value.count
            var evicted = 0
            while s.bytes > capacityBytes {
                while s.order[s.oldest] == nil && s.oldest < s.nextTick { s.oldest += 1 }
                guard let victim = s.order[s.oldest] else { break }
                Self.remove(victim, from: &s)
                evicted += 1
            }
            return (evicted, s.bytes, s.entries.count)
        }
        counters.update {
            $0.evictions += evicted
            $0.bytes = bytes
            $0.entries = count
        }
    }

    public func delete(_ key: String) async throws {
        let (bytes, count) = state.withLock { s in
            Self.remove(key, from: &s)
            return (s.bytes, s.entries.count)
        }
        counters.update {
            $0.bytes = bytes
            $0.entries = count
        }
    }

    public func clear() async throws {
        state.withLock { $0 = State() }
        counters.update {
            $0.bytes = 0
            $0.entries = 0
        }
    }

    private static func remove(_ key: String, from s: inout State) {
        guard let e = s.entries.removeValue(forKey: key) else { return }
        s.order[e.tick] = nil
        s.bytes -= e.value.count
    }
}

extension MemoryCache: RangedCloudCache {
    /// An eighth of the capacity: one segment must not flush the manifests and posting lists.
    public var maxValueBytes: Int { capacityBytes / 8 }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8]? {
        guard let value = try await get(key), range.upperBound <= value.count else { return nil }
        return Array(value[range])
    }
}
