import Logging
import ProximaCloud
import ProximaCore
import ProximaFormat

/// The background work on one collection (flush, compaction, garbage
/// collection), as functions of the object store alone: any process can run
/// any job, any number of times, and the manifest chain keeps them honest.
public struct Maintenance: Sendable {
    public let storage: any CloudStorage
    public let layout: StorageLayout
    public let config: CollectionConfig
    public let settings: MaintenanceSettings
    let logger: Logger

    public init(
        storage: any CloudStorage, layout: StorageLayout, config: CollectionConfig, settings: MaintenanceSettings,
        logger: Logger = Logger(label: "proximadb.maintenance")
    ) {
        self.storage = storage
        self.layout = layout
        self.config = config
        self.settings = settings.applying(config)
        self.logger = logger
    }

    var manifests: ManifestStore { ManifestStore(storage: storage, layout: layout, collectionId: config.id) }
    /// Publishes `next` (false: another job took its version) and then the
    /// copy of it cold starts read beside the catalog entry (`ManifestHint`).
    ///
    /// `written`: the segments this job wrote for `next`. Garbage collection
    /// takes an unnamed segment older than `orphanSegmentAgeMicros` for an
    /// orphan, so a job that ran past half of that since writing one does not
    /// name it (it may be gone already): its outputs are deleted and it fails,
    /// to be run again, rather than publish a manifest naming a missing object.
    func publish(_ next: Manifest, written: [Manifest.Segment]) async throws -> Bool {
        let now = settings.clock.nowMicros()
        if let oldest = written.compactMap({ SegmentIO.createdAt(segmentId: $0.id) }).min(),
            now - oldest > settings.orphanSegmentAgeMicros / 2
        {
            for s in written { await segments.delete(s) }
            throw ProximaError(
                .deadlineExceeded,
                "the job ran \((now - oldest) / 1_000_000) s after writing its segment, past half the orphan-segment age "
                    + "(\(settings.orphanSegmentAgeMicros / 1_000_000) s) after which garbage collection may remove it; not published")
        }
        guard try await manifests.publish(next) else { return false }
        await ManifestHint.write(next, of: config, storage, layout)
        return true
    }

    var segments: SegmentIO { SegmentIO(storage: storage, layout: layout, config: config, indexMinRows: settings.indexMinRows) }

    /// Runs one job.
    public func run(kind: JobKind, jobId: String) async throws -> JobReport {
        let report: JobReport
        switch kind {
        case .flush: report = try await flush(jobId: jobId)
        case .compact: report = try await compact(jobId: jobId, force: false)
        case .compactAll: report = try await compact(jobId: jobId, force: true)
        case .gc:
            let gc = try await collectGarbage(now: settings.clock.nowMicros())
            return JobReport(jobId: jobId, kind: kind, status: gc.isEmpty ? .noop : .done, manifestVersion: 0, details: gc.json)
        case .drop:
            // A collection that still has a catalog entry is not dropped (see `Worker.execute`).
            return JobReport(jobId: jobId, kind: kind, status: .noop, manifestVersion: 0, details: [:])
        }
        return report
    }

    /// A job's own duration, for its report (measured, not read off the wall clock).
    static func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
        let d = ContinuousClock.now - start
        return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    /// Whether the newest manifest has enough small segments to merge.
    public func needsCompaction(_ manifest: Manifest, now: Int64) -> Bool {
        compactionRun(manifest, force: false, now: now) != nil
    }
}
