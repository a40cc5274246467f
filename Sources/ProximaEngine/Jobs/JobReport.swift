import ProximaCore

/// What a flush or compaction job did.
public struct JobReport: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Published a new manifest version.
        case done
        /// Nothing needed doing.
        case noop
        /// Another worker did the same work first; ours was discarded.
        case superseded
    }

    public var jobId: String
    public var kind: JobKind
    public var status: Status
    public var manifestVersion: Int64
    public var details: [String: JSONValue]

    public var json: JSONValue {
        var o = details
        o["job_id"] = .string(jobId)
        o["kind"] = .string(kind.rawValue)
        o["status"] = .string(status.rawValue)
        o["manifest_version"] = .int(manifestVersion)
        return .object(o)
    }

    public init(jobId: String, kind: JobKind, status: Status, manifestVersion: Int64, details: [String: JSONValue]) {
        self.jobId = jobId
        self.kind = kind
        self.status = status
        self.manifestVersion = manifestVersion
        self.details = details
    }

    public init?(json: JSONValue) {
        guard let id = json["job_id"]?.string, let kind = json["kind"]?.string.flatMap(JobKind.init(rawValue:)),
            let status = json["status"]?.string.flatMap(Status.init(rawValue:)), let v = json["manifest_version"]?.integer,
            var details = json.object
        else { return nil }
        for k in ["job_id", "kind", "status", "manifest_version"] { details[k] = nil }
        self.init(jobId: id, kind: kind, status: status, manifestVersion: v, details: details)
    }
}
