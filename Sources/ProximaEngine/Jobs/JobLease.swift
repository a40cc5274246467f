import ProximaCloud
import Synchronization

/// Keeps a received job message hidden while its job runs, renewing its
/// visibility every `interval`. A renewal may change the receipt (a
/// directory queue names an in-flight message by its deadline), so the
/// message is deleted with the receipt `finish` returns: deleted with the
/// first one, a job that ran past one renewal stayed in flight and was run
/// again once its deadline passed (a compaction at 1M × 128, five times).
struct JobLease: Sendable {
    private let latest: Latest
    private let renewing: Task<Void, Never>

    init(queue: any CloudQueue, receipt: String, visibilitySeconds: Int, every interval: Duration) {
        let latest = Latest(receipt)
        self.latest = latest
        renewing = Task {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                    latest.set(try await queue.changeVisibility(receipt: latest.value, seconds: visibilitySeconds))
                } catch {
                    return  // cancelled, or the message was redelivered: nothing left to renew
                }
            }
        }
    }

    /// The message's receipt as of the last renewal.
    var current: String { latest.value }

    /// Stops renewing (waiting out a renewal in flight); the message's receipt now.
    func finish() async -> String {
        renewing.cancel()
        await renewing.value
        return latest.value
    }

    private final class Latest: Sendable {
        private let receipt: Mutex<String>
        init(_ receipt: String) { self.receipt = Mutex(receipt) }
        var value: String { receipt.withLock { $0 } }
        func set(_ new: String) { receipt.withLock { $0 = new } }
    }
}
