/// Limits on what one request may carry, the same for every transport.
public struct RequestLimits: Sendable {
    /// Largest request body a transport reads (REST body, gRPC message).
    public var maxBodyBytes = 64 * 1024 * 1024
    /// Most records in one write request.
    public var maxBatchVectors = 10_000
    /// Most query vectors in one search request.
    public var maxQueries = 1_000
    /// Largest `k` a search may ask for.
    public var maxK = 10_000
    public init() {}
}
