import Dispatch
import Foundation
import ProximaIndex
import Synchronization

/// Where maintenance jobs (flush, compaction, collection, background loads of
/// a new manifest) run between their awaits: threads of their own at a lower
/// priority, not Swift's cooperative pool.
///
/// Their heaviest work already runs `ComputeQueue.inBackground`, but the
/// glue between (merging a compaction's rows by id, sorting them, mapping a
/// kept graph's nodes) is hundreds of milliseconds at a few hundred thousand
/// rows. On the cooperative pool, one thread per core, that held a thread
/// while queries waited for one to start on: under ingest, searches taking
/// 3–5 ms answered in 15–40 ms (measured with bench/freshness).
public final class MaintenanceExecutor: TaskExecutor, Sendable {
    /// One per process, made on first use.
    public static let shared = MaintenanceExecutor(threads: max(2, ProcessInfo.processInfo.activeProcessorCount))

    private let jobs = Mutex<[UnownedJob]>([])
    private let ready = DispatchSemaphore(value: 0)

    init(threads: Int) {
        for i in 0..<threads {
            let thread = Thread { [unowned self] in
                BuildThreads.lowerCurrentThreadPriority()
                while true {
                    ready.wait()
                    let job = jobs.withLock { $0.removeFirst() }
                    job.runSynchronously(on: asUnownedTaskExecutor())
                }
            }
            thread.name = "maintenance-\(i)"
            thread.stackSize = 8 << 20  // as `ComputeQueue.inBackground`
            thread.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
        ready.signal()
    }

    /// Runs `body` with `executor` preferred for it and every task it starts.
    public static func run<T, Failure: Error>(
        on executor: MaintenanceExecutor = shared, _ body: () async throws(Failure) -> T
    ) async throws(Failure) -> T {
        try await withTaskExecutorPreference(executor, operation: body)
    }
}
