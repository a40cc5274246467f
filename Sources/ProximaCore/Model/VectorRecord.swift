/// One stored vector with its metadata, as the WAL and segments hold it.
public struct VectorRecord: Sendable, Equatable {
    public var id: String
    public var vector: [Float]
    public var metadata: [String: JSONValue]
    /// Write time, microseconds since the Unix epoch.
    public var timestamp: Int64
    /// Expiry, microseconds since the Unix epoch; nil never expires.
    public var expiresAt: Int64?
    /// Orders writes of one id: the WAL sequence that wrote it. Latest wins.
    public var version: Int64

    public init(id: String, vector: [Float], metadata: [String: JSONValue] = [:], timestamp: Int64 = 0, expiresAt: Int64? = nil, version: Int64 = 0) {
        self.id = id
        self.vector = vector
        self.metadata = metadata
        self.timestamp = timestamp
        self.expiresAt = expiresAt
        self.version = version
    }

    public func isExpired(at nowMicros: Int64) -> Bool { expiresAt.map { $0 <= nowMicros } ?? false }
}

/// The kinds of WAL entry (the seed's `WalOperation`).
public enum WriteOperation: String, Sendable, CaseIterable {
    case insert = "INSERT"
    case upsert = "UPSERT"
    case update = "UPDATE"
    case delete = "DELETE"
}
