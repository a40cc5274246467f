import ProximaCore

/// Thresholds for flush, compaction and garbage collection: engine-wide
/// defaults, overridden per collection by its settings (the seed's names).
public struct MaintenanceSettings: Sendable, Equatable {
    /// Unflushed WAL bytes that trigger a flush (`max_wal_size_bytes`).
    public var flushThresholdBytes = 32 << 20
    /// At most this much WAL goes into one flush job.
    public var maxFlushBytes = 512 << 20
    public var minFilesForCompaction = 4
    public var maxFilesPerCompaction = 16
    /// Segments smaller than half of this are merged (`target_file_size_mb`).
    public var targetFileBytes = 256 << 20
    /// How long unreferenced objects stay readable for readers holding an older manifest.
    public var gcGraceMicros: Int64 = 600 * 1_000_000
    /// How old an unreferenced segment must be before it counts as an orphan:
    /// longer than any job runs between writing a segment and publishing it.
    public var orphanSegmentAgeMicros: Int64 = 3600 * 1_000_000
    /// Segments with fewer live rows get no ANN index (an exact scan of them is as fast).
    public var indexMinRows = 2_000

    public init() {}

    /// The collection's own values where it sets them.
    public func applying(_ config: CollectionConfig) -> MaintenanceSettings {
        var s = self
        if let v = config.setting("max_wal_size_bytes"), v > 0 { s.flushThresholdBytes = Int(v) }
        if let v = config.setting("min_files_for_compaction"), v > 1 { s.minFilesForCompaction = Int(v) }
        if let v = config.setting("max_files_per_compaction"), v > 1 { s.maxFilesPerCompaction = Int(v) }
        if let v = config.setting("target_file_size_mb"), v > 0 { s.targetFileBytes = Int(v) << 20 }
        return s
    }
}

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
    public var kind: String
    public var status: Status
    public var manifestVersion: Int64
    public var details: [String: JSONValue]

    public var json: JSONValue {
        var o = details
        o["job_id"] = .string(jobId)
        o["kind"] = .string(kind)
        o["status"] = .string(status.rawValue)
        o["manifest_version"] = .int(manifestVersion)
        return .object(o)
    }

    public init(jobId: String, kind: String, status: Status, manifestVersion: Int64, details: [String: JSONValue]) {
        self.jobId = jobId
        self.kind = kind
        self.status = status
        self.manifestVersion = manifestVersion
        self.details = details
    }

    public init?(json: JSONValue) {
        guard let id = json["job_id"]?.string, let kind = json["kind"]?.string,
            let status = json["status"]?.string.flatMap(Status.init(rawValue:)), let v = json["manifest_version"]?.integer,
            var details = json.object
        else { return nil }
        for k in ["job_id", "kind", "status", "manifest_version"] { details[k] = nil }
        self.init(jobId: id, kind: kind, status: status, manifestVersion: v, details: details)
    }
}
