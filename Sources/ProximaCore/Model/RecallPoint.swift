/// The recall@10 an index reached at one search width (HNSW `ef`, IVF
/// probes): measured by ProximaIndex, stored by ProximaFormat's index files.
public struct RecallPoint: Sendable, Equatable {
    public var width: Int
    public var recall: Float

    public init(width: Int, recall: Float) {
        self.width = width
        self.recall = recall
    }
}
