import ProximaCore

/// The background work a job asks for.
public enum JobKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case flush
    /// Merges small segments.
    case compact
    /// Merges everything into as few segments as the target size allows.
    case compactAll = "compact-all"
    /// Deletes objects no manifest needs any more.
    case gc
    /// Deletes the data of a dropped collection (its catalog entry is gone
    /// already). Queued so that request handlers need no permission to delete
    /// data: in the serverless shape only workers may.
    case drop

    public var description: String { rawValue }
}

/// A queued request for background work on one collection.
public struct JobMessage: Sendable, Equatable {
    public var kind: JobKind
    public var tenant: String
    public var collectionId: String
    public var collection: String
    public var jobId: String

    public init(kind: JobKind, tenant: String, collectionId: String, collection: String, jobId: String) {
        self.kind = kind
        self.tenant = tenant
        self.collectionId = collectionId
        self.collection = collection
        self.jobId = jobId
    }

    /// Job ids start with their creation time, so old job results can be collected.
    public static func newJobId(now: Int64) -> String {
        StorageLayout.pad(now) + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    public var json: String {
        JSONWriter.string(
            .object([
                "kind": .string(kind.rawValue), "tenant": .string(tenant), "collection_id": .string(collectionId),
                "collection": .string(collection), "job_id": .string(jobId),
            ]))
    }

    public init?(json text: String) {
        guard case .object(let o) = try? JSONParser.parse(text), let kind = o["kind"]?.string.flatMap(JobKind.init(rawValue:)),
            let tenant = o["tenant"]?.string, let id = o["collection_id"]?.string, let name = o["collection"]?.string,
            let job = o["job_id"]?.string, !job.contains("/"), !job.hasPrefix(".")
        else { return nil }
        self.init(kind: kind, tenant: tenant, collectionId: id, collection: name, jobId: job)
    }
}
