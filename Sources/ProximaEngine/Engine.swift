import Logging
import ProximaCloud
import ProximaCore

/// The engine's entry points, shared by every transport. Holds no state that
/// matters for correctness: the catalog and the WAL in the object store are
/// the truth, and collection handles are caches of them.
public actor Engine {
    public nonisolated let storage: any CloudStorage
    public nonisolated let layout: StorageLayout
    public nonisolated let catalog: CollectionCatalog
    public nonisolated let maintenance: MaintenanceSettings
    /// Where flush and compaction jobs go; nil runs them in the calling process.
    public nonisolated let jobs: (any CloudQueue)?
    let logger: Logger
    private var handles: [String: CollectionHandle] = [:]

    public init(
        storage: any CloudStorage, tenant: String = "default", maintenance: MaintenanceSettings = MaintenanceSettings(),
        jobs: (any CloudQueue)? = nil, logger: Logger = Logger(label: "proximadb.engine")
    ) {
        self.storage = storage
        self.layout = StorageLayout(tenant: tenant)
        self.catalog = CollectionCatalog(storage: storage, layout: layout)
        self.maintenance = maintenance
        self.jobs = jobs
        self.logger = logger
    }

    // MARK: collections

    public func createCollection(_ body: JSONValue) async throws -> CollectionConfig {
        let config = try CollectionConfig.fromCreateRequest(body, id: CollectionHandle.makeId(), now: Timestamp.nowMicros())
        return try await catalog.create(config)
    }

    public func listCollections() async throws -> [CollectionConfig] { try await catalog.list() }

    public func describeCollection(_ name: String) async throws -> (CollectionConfig, OpenCollection.Stats) {
        let collection = try await open(name)
        return (collection.config, try await collection.stats())
    }

    public func updateCollection(_ name: String, _ patch: JSONValue) async throws -> CollectionConfig {
        let now = Timestamp.nowMicros()
        // The next request notices the new config and rebuilds its handle (see `handle`).
        return try await catalog.update(name) { config in try config.applyPatch(patch, now: now) }
    }

    public func deleteCollection(_ name: String) async throws {
        let config = try await catalog.delete(name)
        handles[config.id] = nil
        // The catalog entry is gone, so the data is unreachable; remove it now. What a failed
        // removal leaves behind waits for garbage collection of unnamed objects (issue 4).
        do { try await storage.deleteAll(prefix: layout.collectionPrefix(config.id)) } catch {
            logger.warning("could not remove data of deleted collection \(name): \(error)")
        }
    }

    // MARK: vectors

    /// A collection by name, for several operations on one catalog read.
    public func open(_ name: String) async throws -> OpenCollection { OpenCollection(handle: try await handle(name)) }

    public func write(_ collection: String, _ intent: WriteIntent) async throws -> WriteOutcome {
        try await open(collection).write(intent)
    }

    public func getVector(_ collection: String, id: String) async throws -> VectorRecord {
        try await open(collection).get(id)
    }

    public func search(
        _ collection: String, queries: [[Float]], k: Int, filter: Filter?, threshold: Float?
    ) async throws -> [[SearchHit]] {
        try await open(collection).search(queries: queries, k: k, filter: filter, threshold: threshold)
    }

    // MARK: background work

    /// Queues a job ("flush", "compact-all", …) for a collection; with `wait`,
    /// answers once a worker has recorded what it did (or `waitTimeout` passes:
    /// then nil, and the job goes on).
    public func requestJob(_ name: String, kind: String, wait: Bool, waitTimeout: Duration = .seconds(300)) async throws -> (jobId: String, report: JobReport?) {
        let config = try await catalog.get(name).config
        let job = self.job(kind, config)
        let local: Task<Void, any Error>?
        do { local = try await submit(job) } catch { throw CollectionHandle.mapStorage(error) }
        guard wait else { return (job.jobId, nil) }
        try await local?.value
        let key = layout.jobKey(config.id, job: job.jobId)
        let deadline = ContinuousClock.now + waitTimeout
        var pause = Duration.milliseconds(20)
        while ContinuousClock.now < deadline {
            if let bytes = try? await storage.get(key).bytes, let json = try? JSONParser.parse(bytes), let report = JobReport(json: json) {
                return (job.jobId, report)
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(500))
        }
        return (job.jobId, nil)
    }

    /// Queues a flush when a handle's unflushed WAL passes its threshold.
    nonisolated func flushNeeded(_ config: CollectionConfig) async {
        do { _ = try await submit(job("flush", config)) } catch { logger.warning("could not queue a flush of \(config.name): \(error)") }
    }

    nonisolated func job(_ kind: String, _ config: CollectionConfig) -> JobMessage {
        JobMessage(kind: kind, tenant: layout.tenant, collectionId: config.id, collection: config.name, jobId: JobMessage.newJobId())
    }

    /// Sends a job to the queue; with no queue, starts it in this process and
    /// returns its task, for a caller that waits.
    nonisolated func submit(_ job: JobMessage) async throws -> Task<Void, any Error>? {
        guard let jobs else {
            let (storage, settings, logger) = (storage, maintenance, logger)
            return Task.detached { try await Worker.execute(job, storage: storage, settings: settings, queue: nil, logger: logger) }
        }
        try await jobs.send(job.json)
        return nil
    }

    // MARK: handles

    /// The handle for a collection by name; the catalog is read on every call,
    /// so a collection dropped or recreated by another process is noticed.
    func handle(_ name: String) async throws -> CollectionHandle {
        let (config, _) = try await catalog.get(name)
        if let h = handles[config.id], h.config == config { return h }
        let h = CollectionHandle(
            config: config, storage: storage, layout: layout, logger: logger, settings: maintenance,
            onFlushNeeded: { [weak self] config in await self?.flushNeeded(config) })
        if let old = handles[config.id] {
            // Config changed elsewhere: carry the materialised state over.
            await h.adopt(old)
        }
        handles[config.id] = h
        return h
    }
}
