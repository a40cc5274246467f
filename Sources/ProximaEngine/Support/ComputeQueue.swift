import Dispatch

/// Where CPU-bound work (searches, index builds, segment encoding and
/// decoding) runs: threads of its own, not Swift's cooperative pool, whose one
/// thread per core would otherwise be held by a long scan or build while
/// writes, timers and I/O completions wait behind it.
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
}
