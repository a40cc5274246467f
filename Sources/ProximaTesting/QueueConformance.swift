import ProximaCloud

/// The `CloudQueue` contract, run against every implementation. Each call
/// uses its own queue, which must start empty.
public enum QueueConformance {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    static func check(_ ok: Bool, _ what: String) throws {
        if !ok { throw Failure(description: "queue conformance: \(what)") }
    }

    /// Receives until `count` messages arrived or `seconds` passed.
    static func collect(_ q: any CloudQueue, count: Int, visibility: Int, seconds: Int) async throws -> [QueueMessage] {
        var out: [QueueMessage] = []
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        while out.count < count && clock.now < deadline {
            let got = try await q.receive(max: count - out.count, visibilityTimeoutSeconds: visibility, waitSeconds: 1)
            // Queues that do not wait (in memory) are polled, not spun.
            if got.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            out += got
        }
        return out
    }

    /// `exactlyOnce`: whether competing receivers never share a message. SQS
    /// standard queues (and moto, whose server races concurrent receives)
    /// promise at-least-once only, which the workers tolerate by being idempotent.
    /// `pass(seconds)` lets that much time go by: a sleep for real queues; for
    /// a queue on a `ManualClock`, moving the clock, which makes the run exact.
    public static func run(
        _ q: any CloudQueue, exactlyOnce: Bool = true,
        pass: (Int) async throws -> Void = { try await Task.sleep(for: .seconds($0)) }
    ) async throws {
        // Delivery, invisibility while held, deletion. Timeouts are generous: emulators may be slow under load.
        for i in 0..<3 { try await q.send("m\(i) ünïcode {\"json\": true}") }
        let first = try await collect(q, count: 3, visibility: 60, seconds: 20)
        try check(Set(first.map(\.body)) == Set((0..<3).map { "m\($0) ünïcode {\"json\": true}" }), "all sent messages arrive once: \(first.map(\.body))")
        try check(first.allSatisfy { $0.receiveCount == 1 }, "first delivery counts 1")
        try check(try await q.receive(max: 10, visibilityTimeoutSeconds: 60, waitSeconds: 0).isEmpty, "held messages are invisible")
        try await q.delete(receipt: first[0].receipt)
        // Shortening one message's invisibility returns it; the other stays held.
        let shortened = try await q.changeVisibility(receipt: first[2].receipt, seconds: 1)
        try await pass(2)
        let again = try await collect(q, count: 1, visibility: 60, seconds: 20)
        try check(again.map(\.body) == [first[2].body], "only the released message returns: \(again.map(\.body))")
        try check(again[0].receiveCount == 2, "redelivery counts 2, got \(again[0].receiveCount)")
        try await q.delete(receipt: again[0].receipt)
        try await q.delete(receipt: shortened)  // a stale receipt is not an error
        try await q.delete(receipt: first[1].receipt)
        // Delayed messages wait.
        try await q.send("later", delaySeconds: 3)
        try check(try await q.receive(max: 10, visibilityTimeoutSeconds: 60, waitSeconds: 0).isEmpty, "a delayed message waits")
        try await pass(3)
        let later = try await collect(q, count: 1, visibility: 60, seconds: 20)
        try check(later.map(\.body) == ["later"], "a delayed message arrives")
        try await q.delete(receipt: later[0].receipt)
        // Competing consumers each get distinct messages.
        let n = 20
        for i in 0..<n { try await q.send("c\(i)") }
        let received = try await withThrowingTaskGroup(of: [QueueMessage].self) { group in
            for _ in 0..<4 { group.addTask { try await collect(q, count: n, visibility: 120, seconds: 6) } }
            var all: [QueueMessage] = []
            for try await part in group { all += part }
            return all
        }
        let distinct = Set(received.map(\.body))
        try check(distinct == Set((0..<n).map { "c\($0)" }), "every message reaches a receiver: \(distinct.count) of \(n)")
        try check(!exactlyOnce || received.count == n, "\(received.count) deliveries for \(n) messages")
        for m in received { try await q.delete(receipt: m.receipt) }
    }
}
