import ProximaCloud

/// The `CloudCache` contract, run against every tier. Each call uses keys of
/// its own under `prefix`.
public enum CacheConformance {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    static func check(_ ok: Bool, _ what: String) throws {
        if !ok { throw Failure(description: "cache conformance: \(what)") }
    }

    public static func run(_ cache: any CloudCache, prefix p: String) async throws {
        try check(try await cache.get(p + "missing") == nil, "a missing key misses")
        let binary = (0..<256).map { UInt8($0) } + [0, 13, 10, 0]
        try await cache.set(p + "bin", binary)
        try check(try await cache.get(p + "bin") == binary, "binary values read back exactly")
        try await cache.set(p + "empty", [])
        try check(try await cache.get(p + "empty") == [], "an empty value is a hit, not a miss")
        let key = p + "ünï code/../with spaces"
        try await cache.set(key, Array("unicode".utf8))
        try check(try await cache.get(key) == Array("unicode".utf8), "any key")
        try await cache.set(p + "bin", [1, 2, 3])
        try check(try await cache.get(p + "bin") == [1, 2, 3], "a set replaces")
        let large = [UInt8](repeating: 7, count: 3 << 20)
        try await cache.set(p + "large", large)
        try check(try await cache.get(p + "large") == large, "a 3 MiB value")
        try await cache.delete(p + "bin")
        try check(try await cache.get(p + "bin") == nil, "a deleted key misses")
        try await cache.delete(p + "never-there")
        let before = cache.stats
        _ = try await cache.get(p + "empty")
        _ = try await cache.get(p + "nope")
        let after = cache.stats
        try check(after.hits == before.hits + 1 && after.misses == before.misses + 1, "hits and misses are counted")
        try await cache.clear()
        try check(try await cache.get(p + "large") == nil && cache.stats.entries == 0 || cache is RedisCache, "clear removes everything")
    }
}
