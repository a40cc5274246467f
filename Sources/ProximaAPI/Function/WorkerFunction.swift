import Logging
import ProximaCore
import ProximaEngine

/// The `worker` role: SQS batch events whose messages are jobs (flush,
/// compaction, garbage collection), run by the same code as `proximadb
/// worker`. It answers in the ReportBatchItemFailures format, so only the
/// messages that failed come back, and a poison message reaches the
/// dead-letter queue through the queue's redrive policy rather than holding
/// up its batch.
public struct WorkerFunction: FunctionHandler {
    /// Runs the jobs; follow-up jobs (a compaction after a flush) go to its queue.
    let engine: Engine
    /// Kept back from the deadline to post the answer.
    let margin: Duration

    /// Runs jobs on `engine`; `margin` is kept back from the deadline to answer.
    public init(engine: Engine, margin: Duration = .seconds(2)) {
        self.engine = engine
        self.margin = margin
    }

    public func handle(_ invocation: Invocation, logger: Logger) async -> InvocationResult {
        guard case .object(let event)? = try? JSONParser.parse(invocation.event), let records = event["Records"]?.array else {
            return .error(type: "InvalidEvent", message: "the worker function answers SQS events ({\"Records\": [...]})")
        }
        var failures: [String] = []
        for record in records {
            let messageId = record["messageId"]?.string ?? ""
            guard record["eventSource"]?.string == "aws:sqs" || record["eventSource"] == nil, !messageId.isEmpty else {
                logger.error("worker: a record without an SQS message id")
                continue
            }
            // Once the time is gone, what is left goes back to the queue untouched.
            guard invocation.remaining > margin else {
                failures.append(messageId)
                continue
            }
            guard let body = record["body"]?.string, let job = JobMessage(json: body) else {
                logger.error("worker: message \(messageId) is not a job; left for the dead-letter queue")
                failures.append(messageId)
                continue
            }
            do {
                try await withDeadline(invocation.deadline - margin) { [engine] in try await engine.runJob(job) }
            } catch is DeadlineExceeded {
                logger.warning("worker: job \(job.jobId) (\(job.kind) of \(job.collection)) did not finish in time; it will be retried")
                failures.append(messageId)
            } catch {
                logger.warning("worker: job \(job.jobId) (\(job.kind) of \(job.collection)) failed: \(error); it will be retried")
                failures.append(messageId)
            }
        }
        let answer: JSONValue = ["batchItemFailures": .array(failures.map { ["itemIdentifier": .string($0)] })]
        return .response(JSONWriter.encode(answer))
    }
}
