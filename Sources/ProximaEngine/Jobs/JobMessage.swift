import ProximaCore

/// A queued request for background work on one collection.
public struct JobMessage: Sendable, Equatable {
    /// "flush", "compact" (small segments), "compact-all" (everything), or "gc".
    public var kind: String
    public var tenant: String
    public var collectionId: String
    public var collection: String
    public var jobId: String

    public init(kind: String, tenant: String, collectionId: String, collection: String, jobId: String) {
        self.kind = kind
        self.tenant = tenant
        self.collectionId = collectionId
        self.collection = collection
        self.jobId = jobId
    }

    public static let kinds: Set<String> = ["flush", "compact", "compact-all", "gc"]

    /// Job ids start with their creation time, so old job results can be collected.
    public static func newJobId(now: Int64 = Timestamp.nowMicros()) -> String {
        StorageLayout.pad(now) + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    public var json: String {
        JSONWriter.string(
            .object([
                "kind": .string(kind), "tenant": .string(tenant), "collection_id": .string(collectionId),
                "collection": .string(collection), "job_id": .string(jobId),
            ]))
    }

    public init?(json text: String) {
        guard case .object(let o) = try? JSONParser.parse(text), let kind = o["kind"]?.string, Self.kinds.contains(kind),
            let tenant = o["tenant"]?.string, let id = o["collection_id"]?.string, let name = o["collection"]?.string,
            let job = o["job_id"]?.string, !job.contains("/"), !job.hasPrefix(".")
        else { return nil }
        self.init(kind: kind, tenant: tenant, collectionId: id, collection: name, jobId: job)
    }
}
