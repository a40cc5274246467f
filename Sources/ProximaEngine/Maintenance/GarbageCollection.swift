import ProximaCloud
import ProximaCore

/// What one garbage collection removed.
public struct GarbageReport: Sendable, Equatable {
    public var walObjects = 0
    public var segments = 0
    public var manifests = 0
    public var jobResults = 0

    public var isEmpty: Bool { walObjects + segments + manifests + jobResults == 0 }

    public var json: [String: JSONValue] {
        [
            "wal_objects_deleted": .int(Int64(walObjects)), "segments_deleted": .int(Int64(segments)),
            "manifests_deleted": .int(Int64(manifests)), "job_results_deleted": .int(Int64(jobResults)),
        ]
    }
}

extension Maintenance {
    /// Job outcomes stay an hour, for `?wait=true` callers and operators.
    static let jobResultRetentionMicros: Int64 = 3600 * 1_000_000

    /// Deletes what no reader can need any more. A manifest version stays
    /// protected until `gcGraceMicros` after its successor appeared (a reader
    /// may have picked it up just before); segments named by a protected
    /// manifest stay; a segment no manifest names at all stays until it is
    /// older than `orphanSegmentAgeMicros` (a job may be about to publish it);
    /// WAL objects go once a manifest older than the grace period covers them.
    ///
    /// The grace period must exceed the longest read or write (from reading
    /// the manifest to the last object it needs): as with Delta Lake's vacuum
    /// retention, that is what makes deleting safe without locks.
    public func collectGarbage(now: Int64) async throws -> GarbageReport {
        var report = GarbageReport()
        let cutoff = now - settings.gcGraceMicros
        let manifestKeys = try await storage.listAll(prefix: layout.manifestPrefix(config.id)).map(\.key)
            .filter { StorageLayout.sequence(fromKey: $0) != nil }
        guard let newestKey = manifestKeys.last else { return report }
        var referenced = Set<String>()
        var retired = Set<String>()  // named by a manifest read here, replaced since
        var coveredWAL: Int64 = 0
        var successorCreated = Int64.max
        var firstUnprotected = 0
        // Newest first, until a version whose successor is older than the grace period.
        for (i, key) in manifestKeys.enumerated().reversed() {
            let m = try await manifests.read(key)
            if m.createdAt <= cutoff { coveredWAL = max(coveredWAL, m.walThrough) }
            let protected = key == newestKey || successorCreated > cutoff
            if !protected {
                for seg in m.segments { retired.insert(seg.id) }
                firstUnprotected = i + 1
                break
            }
            for s in m.segments { referenced.insert(s.id) }
            successorCreated = m.createdAt
        }
        // Keep a short history for operators; older unprotected versions go.
        let history = 8
        let deletable = Array(manifestKeys[..<max(0, min(firstUnprotected, manifestKeys.count - history))])
        if !deletable.isEmpty {
            try await storage.delete(keys: deletable)
            report.manifests = deletable.count
        }
        if coveredWAL > 0 {
            let wal = try await storage.listAll(prefix: layout.walPrefix(config.id)).map(\.key)
                .filter { (StorageLayout.sequence(fromKey: $0) ?? .max) <= coveredWAL }
            try await storage.delete(keys: wal)
            report.walObjects = wal.count
        }
        let segmentsPrefix = layout.segmentsPrefix(config.id)
        var orphans: [String] = []
        var orphanSegments = Set<String>()
        for object in try await storage.listAll(prefix: segmentsPrefix) {
            let id = String(object.key.dropFirst(segmentsPrefix.count).prefix { $0 != "/" })
            guard !referenced.contains(id), let created = SegmentIO.createdAt(segmentId: id) else { continue }
            // A replaced segment goes after the grace period; one no manifest read here
            // names may belong to a job about to publish it, so it waits longer.
            let age = retired.contains(id) ? settings.gcGraceMicros : max(settings.gcGraceMicros, settings.orphanSegmentAgeMicros)
            guard created <= now - age else { continue }
            orphans.append(object.key)
            orphanSegments.insert(id)
        }
        if !orphans.isEmpty {
            try await storage.delete(keys: orphans)
            report.segments = orphanSegments.count
        }
        let jobs = try await storage.listAll(prefix: layout.jobsPrefix(config.id)).map(\.key).filter { key in
            let name = key.split(separator: "/").last ?? ""
            return (Int64(name.prefix(20)) ?? .max) <= now - Self.jobResultRetentionMicros
        }
        if !jobs.isEmpty {
            try await storage.delete(keys: jobs)
            report.jobResults = jobs.count
        }
        return report
    }
}
