/// Where the engine, its jobs and the local queue read the time of day:
/// record timestamps, TTL expiry, job ids, manifest ages, garbage-collection
/// grace periods, queue visibility. Production uses `SystemClock`; tests pass a
/// clock they move by hand (ProximaTesting's `ManualClock`), so TTL, grace and
/// redelivery are tested exactly instead of with sleeps and windows.
///
/// Durations the process measures for itself (timeouts, latencies, backoff)
/// use `ContinuousClock`, not this.
public protocol WallClock: Sendable {
    /// Microseconds since the Unix epoch.
    func nowMicros() -> Int64
}

/// The system's wall clock.
public struct SystemClock: WallClock {
    public init() {}
    public func nowMicros() -> Int64 { Timestamp.nowMicros() }
}
