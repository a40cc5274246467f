/// The queue seam: at-least-once delivery with a visibility timeout, as SQS,
/// Pub/Sub and Azure Queue Storage give it. A received message is hidden from
/// other consumers until its visibility timeout passes, then delivered again
/// unless deleted with its receipt handle.
public protocol CloudQueue: Sendable {
    /// Enqueues `body`; it becomes receivable after `delaySeconds`. Once this
    /// returns, the message is durable.
    func send(_ body: String, delaySeconds: Int) async throws
    /// Up to `max` visible messages, each then hidden for
    /// `visibilityTimeoutSeconds`; waits up to `waitSeconds` (real time) when
    /// none is visible, and returns an empty array if none became so.
    func receive(max: Int, visibilityTimeoutSeconds: Int, waitSeconds: Int) async throws -> [QueueMessage]
    /// Deleting with a receipt that is no longer current is not an error.
    func delete(receipt: String) async throws
    /// Extends (or shortens) a received message's invisibility; returns the receipt to use from now on.
    func changeVisibility(receipt: String, seconds: Int) async throws -> String
    /// A URL naming the queue, without secrets.
    var description: String { get }
}

extension CloudQueue {
    public func send(_ body: String) async throws { try await send(body, delaySeconds: 0) }
}

public struct QueueMessage: Sendable, Equatable {
    public var id: String
    public var body: String
    public var receipt: String
    /// How many times it has been received, this time included.
    public var receiveCount: Int

    public init(id: String, body: String, receipt: String, receiveCount: Int) {
        self.id = id
        self.body = body
        self.receipt = receipt
        self.receiveCount = receiveCount
    }
}
