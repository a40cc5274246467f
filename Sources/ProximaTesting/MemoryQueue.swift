import ProximaCloud
import ProximaCore
import Synchronization

/// `CloudQueue` in memory on a `WallClock`: visibility timeouts and delays
/// expire when the test moves the clock, never by themselves, so redelivery,
/// dead-lettering and renewal are tested in exact steps. Scheduled failures
/// through `faults`. Delivery is exactly once until a visibility lapses.
public final class MemoryQueue: CloudQueue {
    private struct Message {
        var id: String
        var body: String
        var visibleAt: Int64
        var receives: Int
        /// The receipt of the current delivery; a stale receipt changes nothing.
        var receipt: String?
    }

    private let messages = Mutex<[Message]>([])
    private let counter = Atomic<Int>(0)
    let clock: any WallClock
    public let faults = Faults()
    public let name: String

    public init(name: String = "jobs", clock: any WallClock) {
        self.name = name
        self.clock = clock
    }

    public var description: String { "memory://\(name)" }

    /// Messages not yet deleted, visible or not.
    public var depth: Int { messages.withLock { $0.count } }

    public func send(_ body: String, delaySeconds: Int) async throws {
        try await faults.before(.send)
        let id = "m\(counter.add(1, ordering: .relaxed).newValue)"
        let visibleAt = clock.nowMicros() + Int64(max(0, delaySeconds)) * 1_000_000
        messages.withLock { $0.append(Message(id: id, body: body, visibleAt: visibleAt, receives: 0)) }
        try await faults.after(.send)
    }

    /// Does not wait: with a manual clock nothing becomes visible while it would.
    public func receive(max: Int, visibilityTimeoutSeconds: Int, waitSeconds: Int) async throws -> [QueueMessage] {
        try await faults.before(.receive)
        let now = clock.nowMicros()
        return messages.withLock { messages in
            var out: [QueueMessage] = []
            for i in messages.indices where out.count < max && messages[i].visibleAt <= now {
                messages[i].receives += 1
                messages[i].visibleAt = now + Int64(visibilityTimeoutSeconds) * 1_000_000
                let receipt = "\(messages[i].id)#\(messages[i].receives)"
                messages[i].receipt = receipt
                out.append(QueueMessage(id: messages[i].id, body: messages[i].body, receipt: receipt, receiveCount: messages[i].receives))
            }
            return out
        }
    }

    public func delete(receipt: String) async throws {
        try await faults.before(.deleteMessage)
        messages.withLock { $0.removeAll { $0.receipt == receipt } }
    }

    public func changeVisibility(receipt: String, seconds: Int) async throws -> String {
        try await faults.before(.changeVisibility)
        let now = clock.nowMicros()
        return try messages.withLock { messages in
            guard let i = messages.firstIndex(where: { $0.receipt == receipt }) else {
                throw StorageError(.notFound, "receipt \(receipt) is no longer current")
            }
            messages[i].visibleAt = now + Int64(seconds) * 1_000_000
            return receipt
        }
    }
}
