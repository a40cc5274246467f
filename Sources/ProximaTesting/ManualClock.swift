import ProximaCore
import Synchronization

/// A wall clock that moves only when a test moves it: TTL expiry, grace
/// periods and queue redelivery become exact steps instead of sleeps.
public final class ManualClock: WallClock {
    private let micros: Mutex<Int64>

    /// Starts at `micros` (default: a fixed day in 2026, so runs repeat).
    public init(micros: Int64 = 1_780_000_000_000_000) { self.micros = Mutex(micros) }

    public func nowMicros() -> Int64 { micros.withLock { $0 } }

    public func advance(seconds: Double) { advance(micros: Int64(seconds * 1_000_000)) }

    public func advance(micros delta: Int64) { micros.withLock { $0 += delta } }
}
