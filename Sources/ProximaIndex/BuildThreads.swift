import CProximaKernels
import Dispatch
import Foundation
import Synchronization

/// Threads for index builds: as many as there are cores, each at a lower
/// scheduling priority (nice 10), so a flush or a compaction building a
/// graph on every core yields to the queries and writes of the same process.
/// New threads rather than Dispatch's pool: a pool thread's priority would
/// stay lowered for whatever it ran next, and raising it again needs privileges.
public enum BuildThreads {
    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Runs `body(i)` for every `i` in `0..<iterations` on up to `threads`
    /// threads, taking iterations in order; returns when all are done.
    public static func perform(iterations: Int, threads: Int = cores, _ body: @escaping @Sendable (Int) -> Void) {
        guard iterations > 0 else { return }
        let workers = max(1, min(threads, iterations))
        let next = Counter()
        let group = DispatchGroup()
        for _ in 0..<workers {
            group.enter()
            let thread = Thread {
                lowerCurrentThreadPriority()
                while true {
                    let i = next.take()
                    guard i < iterations else { break }
                    body(i)
                }
                group.leave()
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        group.wait()
    }

    /// Lowers the calling thread's priority (nice 10, Linux); for threads made for one job only.
    public static func lowerCurrentThreadPriority() { _ = pk_lower_thread_priority(10) }

    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
    }
}
