import Dispatch
import Foundation
import ProximaIndex

/// Where CPU-bound work (searches, index builds, segment encoding and
/// decoding) runs: threads of its own, not Swift's cooperative pool, whose one
/// thread per core would otherwise be held by a long scan or build while
/// writes, timers and I/O completions wait behind it.
///
/// Maintenance (flush and compaction: encoding segments, building indexes,
/// decoding the WAL) runs `inBackground`, on a thread of its own at a lower
/// priority: Dispatch keeps about one thread per core for this queue, and a
/// build of tens of seconds holding one of two would leave queries waiting.
enum ComputeQueue {
    static let queue = DispatchQueue(label: "proximadb.compute", qos: .userInitiated, attributes: .concurrent)

    /// Runs `work` on the compute queue and waits for it without holding a cooperative thread.
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }

    /// Runs `work` on a new thread at a lower priority (see above).
    static func inBackground<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                BuildThreads.lowerCurrentThreadPriority()
                continuation.resume(with: Result { try work() })
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    static func inBackground<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                BuildThreads.lowerCurrentThreadPriority()
                continuation.resume(returning: work())
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
