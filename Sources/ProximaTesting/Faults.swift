import ProximaCloud
import Synchronization

/// Failures a test schedules for an in-memory store or queue: the next `count`
/// calls of an operation (optionally only for keys with a prefix) fail with
/// `error` before touching anything, or, with `afterEffect`, after the effect
/// took place (a write that succeeded but whose answer was lost). `latency`
/// makes every call of an operation take that long, as a remote store would.
public final class Faults: Sendable {
    public enum Operation: String, Sendable, CaseIterable {
        case get, head, put, delete, list, send, receive, deleteMessage, changeVisibility
    }

    struct Rule {
        var operation: Operation
        var keyPrefix: String
        var remaining: Int
        var error: StorageError
        var afterEffect: Bool
    }

    private let rules = Mutex<[Rule]>([])
    private let counts = Mutex<[Operation: Int]>([:])
    private let latencies = Mutex<[Operation: Duration]>([:])

    public init() {}

    public func fail(
        _ operation: Operation, keyPrefix: String = "", count: Int = 1,
        with error: StorageError = StorageError(.transient, "injected fault"), afterEffect: Bool = false
    ) {
        rules.withLock { $0.append(Rule(operation: operation, keyPrefix: keyPrefix, remaining: count, error: error, afterEffect: afterEffect)) }
    }

    /// Every later call of `operation` takes `duration` longer (real time).
    public func latency(_ operation: Operation, _ duration: Duration) { latencies.withLock { $0[operation] = duration } }

    /// Calls made of `operation` so far (failed ones included).
    public func calls(_ operation: Operation) -> Int { counts.withLock { $0[operation] ?? 0 } }

    /// Counts the call, waits its latency, and throws a scheduled failure due before its effect.
    func before(_ operation: Operation, key: String = "") async throws {
        counts.withLock { $0[operation, default: 0] += 1 }
        if let delay = latencies.withLock({ $0[operation] }) { try await Task.sleep(for: delay) }
        if let error = take(operation, key: key, afterEffect: false) { throw error }
    }

    /// Throws a scheduled failure due after the effect.
    func after(_ operation: Operation, key: String = "") throws {
        if let error = take(operation, key: key, afterEffect: true) { throw error }
    }

    private func take(_ operation: Operation, key: String, afterEffect: Bool) -> StorageError? {
        rules.withLock { rules in
            guard let i = rules.firstIndex(where: {
                $0.operation == operation && $0.afterEffect == afterEffect && $0.remaining > 0 && key.hasPrefix($0.keyPrefix)
            }) else { return nil }
            rules[i].remaining -= 1
            return rules[i].error
        }
    }
}
