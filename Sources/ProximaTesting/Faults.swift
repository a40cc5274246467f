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
    private let holds = Mutex<[Hold]>([])
    private let waiting = Mutex<[Operation: Int]>([:])

    struct Hold {
        var operation: Operation
        var keyPrefix: String
        var remaining: Int
        var afterEffect: Bool
        var released = false
    }

    public init() {}

    public func fail(
        _ operation: Operation, keyPrefix: String = "", count: Int = 1,
        with error: StorageError = StorageError(.transient, "injected fault"), afterEffect: Bool = false
    ) {
        rules.withLock { $0.append(Rule(operation: operation, keyPrefix: keyPrefix, remaining: count, error: error, afterEffect: afterEffect)) }
    }

    /// Every later call of `operation` takes `duration` longer (real time).
    public func latency(_ operation: Operation, _ duration: Duration) { latencies.withLock { $0[operation] = duration } }

    /// The next `count` calls of `operation` (for keys with the prefix) wait,
    /// before their effect or with `afterEffect` after it, until `release`:
    /// a test lines up concurrent callers behind one, or makes something
    /// happen between a write and its answer, however a loaded machine
    /// schedules them.
    public func hold(_ operation: Operation, keyPrefix: String = "", count: Int = .max, afterEffect: Bool = false) {
        holds.withLock { $0.append(Hold(operation: operation, keyPrefix: keyPrefix, remaining: count, afterEffect: afterEffect)) }
    }

    /// Lets every held call of `operation` go on; later ones are not held.
    public func release(_ operation: Operation) {
        holds.withLock { holds in
            for i in holds.indices where holds[i].operation == operation { holds[i].released = true }
        }
    }

    private func waitIfHeld(_ operation: Operation, key: String, afterEffect: Bool) async throws {
        let held: Int? = holds.withLock { holds in
            guard let i = holds.firstIndex(where: {
                $0.operation == operation && $0.afterEffect == afterEffect && !$0.released && $0.remaining > 0 && key.hasPrefix($0.keyPrefix)
            }) else { return nil }
            holds[i].remaining -= 1
            return i
        }
        guard let held else { return }
        waiting.withLock { $0[operation, default: 0] += 1 }
        defer { waiting.withLock { $0[operation, default: 0] -= 1 } }
        while !holds.withLock({ $0[held].released }) { try await Task.sleep(for: .milliseconds(1)) }
    }

    /// Calls of `operation` held at this moment.
    public func held(_ operation: Operation) -> Int { waiting.withLock { $0[operation] ?? 0 } }

    /// Calls made of `operation` so far (failed ones included).
    public func calls(_ operation: Operation) -> Int { counts.withLock { $0[operation] ?? 0 } }

    /// Counts the call, waits its latency, and throws a scheduled failure due before its effect.
    func before(_ operation: Operation, key: String = "") async throws {
        counts.withLock { $0[operation, default: 0] += 1 }
        try await waitIfHeld(operation, key: key, afterEffect: false)
        if let delay = latencies.withLock({ $0[operation] }) { try await Task.sleep(for: delay) }
        if let error = take(operation, key: key, afterEffect: false) { throw error }
    }

    /// Waits while held after the effect, then throws a scheduled failure due after it.
    func after(_ operation: Operation, key: String = "") async throws {
        try await waitIfHeld(operation, key: key, afterEffect: true)
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
