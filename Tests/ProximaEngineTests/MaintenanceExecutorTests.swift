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

    /// Jobs that keep their threads busy between awaits (as a compaction's
    /// merge of a few hundred thousand rows does) leave the cooperative pool
    /// free: tasks started meanwhile finish while the jobs still spin.
    final class Flags: Sendable {
        let started = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
    }

    @Test func busyJobsLeaveTheCooperativePoolFree() async {
        let spinners = ProcessInfo.processInfo.activeProcessorCount
        let flags = Flags()
        let jobs = (0..<spinners).map { _ in
            Task.detached { () async -> Bool in
                await MaintenanceExecutor.run { () async -> Bool in
                    flags.started.add(1, ordering: .relaxed)
                    // No await: holds its thread until the other work is done, or 20 s.
                    let give = ContinuousClock.now + .seconds(20)
                    while !flags.done.load(ordering: .relaxed), ContinuousClock.now < give {}
                    return flags.done.load(ordering: .relaxed)
                }
            }
        }
        while flags.started.load(ordering: .relaxed) < spinners { try? await Task.sleep(for: .milliseconds(1)) }
        let sum = await withTaskGroup(of: Int.self) { group in
            for i in 0..<(4 * spinners) { group.addTask { i } }
            return await group.reduce(0, +)
        }
        flags.done.store(true, ordering: .relaxed)
        #expect(sum == (0..<(4 * spinners)).reduce(0, +))
        for job in jobs { #expect(await job.value, "a job spun out its 20 s: the other tasks waited for its thread") }
    }
}
