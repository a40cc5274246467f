import CProximaKernels
import Foundation
import Synchronization
import Testing
@testable import ProximaEngine

/// Maintenance runs on threads of its own at a lower priority, never holding
/// the cooperative pool that requests are served from.
@Suite struct MaintenanceExecutorTests {

    @Test func jobsAndTheirChildTasksRunAtLowerPriority() async {
        // The nice value of the thread each piece ran on (read synchronously, where it runs).
        let seen = await MaintenanceExecutor.run {
            var seen = [pk_thread_nice()]
            await withTaskGroup(of: Int32.self) { group in
                for _ in 0..<4 { group.addTask { pk_thread_nice() } }
                for await t in group { seen.append(t) }
            }
            // After an await that resumes from another thread.
            try? await Task.sleep(for: .milliseconds(5))
            seen.append(pk_thread_nice())
            return seen
        }
        #expect(seen == [Int32](repeating: 10, count: 6))
        // The cooperative pool this test runs on keeps its priority.
        #expect(pk_thread_nice() == 0)
    }

    /// Jobs that hold their threads between awaits (as a compaction's merge
    /// of a few hundred thousand rows does) leave the cooperative pool free:
    /// tasks started meanwhile finish while the jobs still hold theirs.
    final class Flags: Sendable {
        let started = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
    }

    @Test func busyJobsLeaveTheCooperativePoolFree() async {
        // As many jobs as the pool has threads, on an executor of their own (the shared one
        // serves other tests' jobs meanwhile). They block rather than spin: holding a thread
        // is the point, and a spinning core would slow the tests running beside this one,
        // some of which hold pool threads for seconds themselves.
        let holders = ProcessInfo.processInfo.activeProcessorCount
        let executor = MaintenanceExecutor(threads: holders)
        let flags = Flags()
        let jobs = (0..<holders).map { _ in
            Task.detached { () async -> Bool in
                await MaintenanceExecutor.run(on: executor) { () async -> Bool in
                    flags.started.add(1, ordering: .relaxed)
                    // No await: holds its thread until the other work is done, or 5 minutes.
                    let give = ContinuousClock.now + .seconds(300)
                    while !flags.done.load(ordering: .relaxed), ContinuousClock.now < give { usleep(1000) }
                    return flags.done.load(ordering: .relaxed)
                }
            }
        }
        while flags.started.load(ordering: .relaxed) < holders { try? await Task.sleep(for: .milliseconds(1)) }
        let sum = await withTaskGroup(of: Int.self) { group in
            for i in 0..<(4 * holders) { group.addTask { i } }
            return await group.reduce(0, +)
        }
        flags.done.store(true, ordering: .relaxed)
        #expect(sum == (0..<(4 * holders)).reduce(0, +))
        for job in jobs { #expect(await job.value, "a job held its thread for 5 minutes: the other tasks waited for it") }
    }
}
