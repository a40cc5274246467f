import ProximaCore

/// One entry of a committed WAL batch (the seed's `WalEntry`).
public struct WALEntry: Sendable, Equatable {
    public var entryId: String
    public var collectionId: String
    public var operation: WriteOperation
    /// For deletes, `record.vector` is empty and only `id`, `timestamp`, `version` matter.
    public var record: VectorRecord
    public var sequence: Int64

    public init(entryId: String, collectionId: String, operation: WriteOperation, record: VectorRecord, sequence: Int64) {
        self.entryId = entryId
        self.collectionId = collectionId
        self.operation = operation
        self.record = record
        self.sequence = sequence
    }
}
