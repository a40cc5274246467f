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
