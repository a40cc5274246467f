import ProximaCore
import Synchronization

/// A sustained rate and a burst: `--rate-limit-per-key 50:100` is 50 requests
/// a second with up to 100 at once. The burst defaults to the rate (at least 1).
public struct RateLimit: Sendable, Equatable {
    public var perSecond: Double
    public var burst: Double

    public init(perSecond: Double, burst: Double? = nil) {
        self.perSecond = perSecond
        self.burst = max(1, burst ?? perSecond)
    }

    /// Parses `RPS[:BURST]`.
    public init(parsing text: String) throws(ProximaError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let rps = Double(parts[0]), rps > 0, rps.isFinite else {
            throw ProximaError(.invalidConfig, "a rate limit is RPS[:BURST] with RPS > 0 (got '\(text)')")
        }
        var burst: Double?
        if parts.count == 2 {
            guard let b = Double(parts[1]), b >= 1, b.isFinite else { throw ProximaError(.invalidConfig, "a rate limit's BURST is at least 1 (got '\(text)')") }
            burst = b
        }
        self.init(perSecond: rps, burst: burst)
    }
}

/// What one admission check says, for the `RateLimit-*` headers and `Retry-After`.
public struct RateDecision: Sendable, Equatable {
    /// Which limit decided: `key`, `address` or `global` (a metrics label).
    public var scope: String
    public var admitted: Bool
    /// The burst of the tightest bucket.
    public var limit: Int
    public var remaining: Int
    /// Seconds until that bucket is full again.
    public var resetSeconds: Int
    /// Seconds until a rejected request would be admitted.
    public var retryAfterSeconds: Int
}

/// Token buckets by name (a key id, a client address, or one global bucket),
/// refilled continuously. Buckets that have refilled completely are dropped
/// when the table grows past `maxBuckets`, so a flood of addresses costs
/// bounded memory and forgets nothing that still matters.
final class TokenBuckets: Sendable {
    struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    let scope: String
    let limit: RateLimit
    let maxBuckets: Int
    private let buckets = Mutex<[String: Bucket]>([:])

    init(_ limit: RateLimit, scope: String = "key", maxBuckets: Int = 100_000) {
        self.scope = scope
        self.limit = limit
        self.maxBuckets = maxBuckets
    }

    /// Takes a token from `name`'s bucket if it has one.
    func take(_ name: String, now: ContinuousClock.Instant = .now) -> RateDecision {
        buckets.withLock { table in
            var b = table[name] ?? Bucket(tokens: limit.burst, updated: now)
            let elapsed = now - b.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            b.tokens = min(limit.burst, b.tokens + max(0, seconds) * limit.perSecond)
            b.updated = now
            let admitted = b.tokens >= 1
            if admitted { b.tokens -= 1 }
            if table.count >= maxBuckets, table[name] == nil { Self.dropFull(&table, limit: limit, now: now) }
            table[name] = b
            return RateDecision(
                scope: scope, admitted: admitted, limit: Int(limit.burst), remaining: Int(b.tokens.rounded(.down)),
                resetSeconds: Int(((limit.burst - b.tokens) / limit.perSecond).rounded(.up)),
                retryAfterSeconds: admitted ? 0 : max(1, Int(((1 - b.tokens) / limit.perSecond).rounded(.up))))
        }
    }

    private static func dropFull(_ table: inout [String: Bucket], limit: RateLimit, now: ContinuousClock.Instant) {
        let full = limit.burst / limit.perSecond
        table = table.filter { _, b in
            let idle = now - b.updated
            return Double(idle.components.seconds) + Double(idle.components.attoseconds) / 1e18 < full
        }
    }
}

/// The three limits of the seed's RateLimitConfig: per key, per client
/// address, and for the whole process. Buckets live in this process: N
/// handler processes admit up to N times a limit in all.
public final class RateLimiter: Sendable {
    let perKey: TokenBuckets?
    let perIP: TokenBuckets?
    let global: TokenBuckets?

    public init(perKey: RateLimit? = nil, perIP: RateLimit? = nil, global: RateLimit? = nil) {
        self.perKey = perKey.map { TokenBuckets($0, scope: "key") }
        self.perIP = perIP.map { TokenBuckets($0, scope: "address") }
        self.global = global.map { TokenBuckets($0, scope: "global") }
    }

    public var isEnabled: Bool { perKey != nil || perIP != nil || global != nil }

    /// Checked before authentication, so guessing keys is slowed too.
    public func admit(address: String?) -> RateDecision? {
        Self.tightest([perIP.map { $0.take("ip:" + (address ?? "unknown")) }, global.map { $0.take("global") }])
    }

    /// Checked once the credential is known.
    public func admit(subject: String) -> RateDecision? {
        Self.tightest([perKey.map { $0.take(subject) }])
    }

    /// A rejection if any bucket rejected, else the bucket with the fewest tokens left.
    static func tightest(_ decisions: [RateDecision?]) -> RateDecision? {
        let all = decisions.compactMap { $0 }
        if let rejected = all.filter({ !$0.admitted }).max(by: { $0.retryAfterSeconds < $1.retryAfterSeconds }) { return rejected }
        return all.min { $0.remaining < $1.remaining }
    }
}
