import Foundation
import Logging
import Synchronization

/// One event handed over by the Lambda Runtime API.
public struct Invocation: Sendable {
    /// `Lambda-Runtime-Aws-Request-Id`: names the invocation in every log line.
    public var requestId: String
    /// `Lambda-Runtime-Deadline-Ms` (Unix epoch milliseconds) as a local instant.
    public var deadline: ContinuousClock.Instant
    /// `Lambda-Runtime-Trace-Id`, exported as `_X_AMZN_TRACE_ID` while the event runs.
    public var traceId: String?
    /// The event, as JSON bytes.
    public var event: [UInt8]

    public init(
        requestId: String, deadline: ContinuousClock.Instant, traceId: String? = nil, event: [UInt8]
    ) {
        self.requestId = requestId
        self.deadline = deadline
        self.traceId = traceId
        self.event = event
    }

    /// A deadline given in epoch milliseconds, mapped onto the monotonic clock
    /// (the wall clock may step; the budget should not).
    public static func deadline(epochMilliseconds ms: Int64) -> ContinuousClock.Instant {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        return ContinuousClock.now + .milliseconds(ms - nowMs)
    }

    /// Time left before the deadline (negative once it has passed).
    public var remaining: Duration { deadline - ContinuousClock.now }
}

/// What a function answers for one invocation.
public enum InvocationResult: Sendable, Equatable {
    /// The response payload (JSON), posted to `/response`.
    case response([UInt8])
    /// A function error, posted to `/error`: the event could not be handled at all.
    case error(type: String, message: String)
}

/// A role of the function (`api`, `worker`, `sweep`): turns events into
/// results. It never throws: a bad event is an answer, not a crash, so the
/// process keeps serving the next one.
public protocol FunctionHandler: Sendable {
    func handle(_ invocation: Invocation, logger: Logger) async -> InvocationResult
}

/// The invocation a task works for, read by the logging metadata provider so
/// that every log line written while handling it carries its request id,
/// including the engine's, whose logger was made before the invocation.
public enum InvocationContext {
    @TaskLocal public static var requestId: String?

    public static let metadataProvider = Logger.MetadataProvider {
        requestId.map { ["aws_request_id": .string($0)] } ?? [:]
    }
}

/// Thrown by `withDeadline` when the work did not finish in time.
public struct DeadlineExceeded: Error, Sendable {}

/// Runs `work` until it returns or `deadline` passes; then it is cancelled and
/// `DeadlineExceeded` is thrown at once, so the caller can still answer in
/// time. Work that ignores cancellation finishes on its own, unawaited:
/// everything it can do to the store is idempotent or guarded by a
/// compare-and-swap. (A task group would wait for it, deadline or not.)
public func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant, _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    guard deadline > ContinuousClock.now else { throw DeadlineExceeded() }
    let race = DeadlineRace<T>()
    return try await withCheckedThrowingContinuation { continuation in
        race.start(continuation)
        let worker = Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            race.finish(result)
        }
        race.setTimer(
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                guard !Task.isCancelled else { return }
                if race.finish(.failure(DeadlineExceeded())) { worker.cancel() }
            })
    }
}

/// Whoever finishes first resumes the continuation; the other finds it gone.
/// The work finishing first also stops the timer, so no sleeper outlives it.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var timer: Task<Void, Never>?
        var finished = false
    }
    private let state = Mutex(State())

    func start(_ c: CheckedContinuation<T, any Error>) { state.withLock { $0.continuation = c } }

    func setTimer(_ timer: Task<Void, Never>) {
        let finished = state.withLock { s in
            s.timer = timer
            return s.finished
        }
        if finished { timer.cancel() }
    }

    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let (c, timer) = state.withLock { s in
            defer { (s.continuation, s.timer, s.finished) = (nil, nil, true) }
            return (s.continuation, s.timer)
        }
        timer?.cancel()
        guard let c else { return false }
        c.resume(with: result)
        return true
    }
}
