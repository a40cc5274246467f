/// Limits on what one request may carry, the same for every transport.
public struct RequestLimits: Sendable {
    /// Largest request body a transport reads (REST body, gRPC message).
    public var maxBodyBytes = 64 * 1024 * 1024
    public var maxBatchVectors = 10_000
    public var maxQueries = 1_000
    public var maxK = 10_000
    public init() {}
}
