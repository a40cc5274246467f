import CoreMetrics
import Logging
import ProximaCloud
import ProximaCore

/// Consumes job messages and runs them: flush, compaction, garbage
/// collection. Delivery is at least once and jobs are idempotent, so a worker
/// killed mid-job costs only the time until the message is visible again.
/// A message received more than `maxAttempts` times goes to the dead-letter
/// queue instead of being retried forever.
public struct Worker: Sendable {
    public let storage: any CloudStorage
    public let queue: any CloudQueue
    public let deadLetter: (any CloudQueue)?
    public let settings: MaintenanceSettings
    public var maxAttempts = 5
    public var visibilityTimeoutSeconds = 120
    let logger: Logger

    public init(
        storage: any CloudStorage, queue: any CloudQueue, deadLetter: (any CloudQueue)?, settings: MaintenanceSettings,
        logger: Logger = Logger(label: "proximadb.worker")
    ) {
        self.storage = storage
        self.queue = queue
        self.deadLetter = deadLetter
        self.settings = settings
        self.logger = logger
    }

    /// Runs until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            do {
                _ = try await runOnce(waitSeconds: 5)
            } catch is CancellationError {
                return
            } catch {
                logger.warning("worker: \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Receives and handles at most one message; returns how many it handled.
    @discardableResult
    public func runOnce(waitSeconds: Int) async throws -> Int {
        let messages = try await queue.receive(max: 1, visibilityTimeoutSeconds: visibilityTimeoutSeconds, waitSeconds: waitSeconds)
        for m in messages { await handle(m) }
        return messages.count
    }

    func handle(_ message: QueueMessage) async {
        guard let job = JobMessage(json: message.body) else {
            logger.error("worker: unreadable job message \(message.id); moving it to the dead-letter queue")
            await deadLetterAndDelete(message)
            return
        }
        if message.receiveCount > maxAttempts {
            logger.error("worker: job \(job.jobId) (\(job.kind) of \(job.collection)) failed \(maxAttempts) times; dead-lettered")
            await deadLetterAndDelete(message)
            return
        }
        // Keep the message invisible while the job runs, however long it takes.
        let lease = JobLease(
            queue: queue, receipt: message.receipt, visibilitySeconds: visibilityTimeoutSeconds,
            every: .seconds(max(1, visibilityTimeoutSeconds / 3)))
        do {
            let start = ContinuousClock.now
            try await Self.execute(job, storage: storage, settings: settings, queue: queue, logger: logger)
            Counter(label: "proximadb_queue_jobs_total", dimensions: [("kind", job.kind.rawValue), ("outcome", "done")]).increment()
            CoreMetrics.Timer(label: "proximadb_queue_job_duration_seconds", dimensions: [("kind", job.kind.rawValue)]).recordInterval(since: start)
            try await queue.delete(receipt: await lease.finish())
        } catch {
            _ = await lease.finish()
            Counter(label: "proximadb_queue_jobs_total", dimensions: [("kind", job.kind.rawValue), ("outcome", "failed")]).increment()
            logger.warning("worker: job \(job.jobId) (\(job.kind) of \(job.collection)) failed: \(error); it will be retried")
        }
    }

    /// Deletes everything under a dropped collection's prefix. Collection ids
    /// are never reused, so nothing live can be under it.
    static func dropData(_ job: JobMessage, storage: any CloudStorage, layout: StorageLayout, logger: Logger) async throws {
        try await storage.deleteAll(prefix: layout.collectionPrefix(job.collectionId))
        logger.info("drop of \(job.collection): data of collection \(job.collectionId) deleted")
    }

    private func deadLetterAndDelete(_ message: QueueMessage) async {
        do {
            try await deadLetter?.send(message.body)
            try await queue.delete(receipt: message.receipt)
            Counter(label: "proximadb_queue_dead_letters_total").increment()
        } catch {
            logger.error("worker: could not dead-letter message \(message.id): \(error)")
        }
    }

    /// Runs one job against the store and records its outcome where
    /// `?wait=true` callers look for it. A collection dropped (or dropped and
    /// recreated) since the job was queued makes it a no-op. `queue` receives
    /// follow-up work (a compaction after a flush); nil skips it.
    /// Runs on the `MaintenanceExecutor`'s threads, off the pool requests are served from.
    public static func execute(
        _ job: JobMessage, storage: any CloudStorage, settings: MaintenanceSettings, queue: (any CloudQueue)?, logger: Logger
    ) async throws {
        try await MaintenanceExecutor.run { try await executeHere(job, storage: storage, settings: settings, queue: queue, logger: logger) }
    }

    private static func executeHere(
        _ job: JobMessage, storage: any CloudStorage, settings: MaintenanceSettings, queue: (any CloudQueue)?, logger: Logger
    ) async throws {
        let layout = StorageLayout(tenant: job.tenant)
        let catalog = CollectionCatalog(storage: storage, layout: layout)
        let current: CollectionConfig?
        do {
            current = try await catalog.get(job.collection).0
        } catch let e as ProximaError where e.code == .collectionNotFound {
            current = nil
        }
        guard let config = current, config.id == job.collectionId else {
            // Dropped (perhaps created again under the same name): only its data is left to delete.
            if job.kind == .drop { try await dropData(job, storage: storage, layout: layout, logger: logger) }
            return
        }
        let maintenance = Maintenance(storage: storage, layout: layout, config: config, settings: settings, logger: logger)
        let report = try await maintenance.run(kind: job.kind, jobId: job.jobId)
        try await storage.put(layout.jobKey(config.id, job: job.jobId), JSONWriter.encode(report.json))
        if report.status == .done { logger.info("job \(job.kind) of \(job.collection): \(JSONWriter.string(report.json))") }
        guard job.kind != .gc else { return }
        // Follow-up work: compaction when small segments pile up, then garbage.
        if job.kind == .flush, report.status == .done, let queue {
            let latest = try await ManifestStore(storage: storage, layout: layout, collectionId: config.id).latest()
            if maintenance.needsCompaction(latest, now: settings.clock.nowMicros()) {
                var next = job
                next.kind = .compact
                next.jobId = JobMessage.newJobId(now: settings.clock.nowMicros())
                try await queue.send(next.json)
            }
        }
        do {
            let gc = try await maintenance.collectGarbage(now: settings.clock.nowMicros())
            if !gc.isEmpty { logger.info("gc of \(job.collection): \(JSONWriter.string(.object(gc.json)))") }
        } catch {
            logger.warning("gc of \(job.collection) failed: \(error)")
        }
    }
}
