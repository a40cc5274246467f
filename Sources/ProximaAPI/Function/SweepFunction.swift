import Logging
import ProximaCore
import ProximaEngine

/// The `sweep` role: a scheduled (EventBridge) event queues the compaction,
/// TTL, flush and garbage-collection jobs that are due on every collection,
/// for the worker function to run. Any event triggers a sweep; its answer
/// says what was queued.
public struct SweepFunction: FunctionHandler {
    let engine: Engine

    public init(engine: Engine) { self.engine = engine }

    public func handle(_ invocation: Invocation, logger: Logger) async -> InvocationResult {
        let source = (try? JSONParser.parse(invocation.event))?["source"]?.string ?? "unknown"
        do {
            let report = try await withDeadline(invocation.deadline - .milliseconds(500)) { [engine] in try await engine.sweep() }
            logger.info("sweep (\(source)): \(JSONWriter.string(report.json))")
            return .response(JSONWriter.encode(report.json))
        } catch is DeadlineExceeded {
            // The jobs already sent stay queued; the next sweep finds the rest.
            return .error(type: "Sweep.Timeout", message: "the sweep did not finish before the deadline")
        } catch {
            return .error(type: "Sweep.Failed", message: "\(error)")
        }
    }
}
