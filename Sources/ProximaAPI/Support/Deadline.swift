import NIOCore
import Synchronization

/// Thrown by `withDeadline` when the work did not finish in time.
public struct DeadlineExceeded: Error, Sendable {}

/// Thrown by `withDeadline` when the client closed its connection first.
public struct ClientWentAway: Error, Sendable {}

/// Runs `work` until it returns, `deadline` passes or `closed` completes (the
/// client hung up); in the latter two cases it is cancelled and
/// `DeadlineExceeded` / `ClientWentAway` is thrown at once, so the caller can
/// still answer in time. Work that ignores cancellation finishes on its own,
/// unawaited: everything it can do to the store is idempotent or guarded by a
/// compare-and-swap. (A task group would wait for it, deadline or not.)
public func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant?, abandonWhen closed: EventLoopFuture<Void>? = nil,
    _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    if let deadline, deadline <= ContinuousClock.now { throw DeadlineExceeded() }
    let race = DeadlineRace<T>()
    return try await withCheckedThrowingContinuation { continuation in
        race.start(continuation)
        let worker = Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            race.finish(result)
        }
        if let deadline {
            race.setTimer(
                Task {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    guard !Task.isCancelled else { return }
                    if race.finish(.failure(DeadlineExceeded())) { worker.cancel() }
                })
        }
        closed?.whenComplete { _ in
            if race.finish(.failure(ClientWentAway())) { worker.cancel() }
        }
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
