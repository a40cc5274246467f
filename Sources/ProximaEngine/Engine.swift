import Logging
import ProximaCloud
import ProximaCore

/// The engine's entry points, shared by every transport: REST, gRPC and
/// function events each translate their requests to these typed calls and
/// nothing else. Every call names its tenant (through a `CollectionPath` or a
/// `Tenant`), and every failure leaves here as a `ProximaError`.
///
/// Holds no state that matters for correctness: the catalog and the WAL in
/// the object store are the truth, and collection handles are caches of them.
public actor Engine {
    public nonisolated let storage: any CloudStorage
    public nonisolated let maintenance: MaintenanceSettings
    public nonisolated let limits: RequestLimits
    /// Where flush and compaction jobs go; nil runs them in the calling process.
    public nonisolated let jobs: (any CloudQueue)?
    let logger: Logger
    private var handles: [HandleKey: CollectionHandle] = [:]
    /// Catalog entries as last read, by name: reads trust one for
    /// `maintenance.catalogRecheck`, so a warm query reads no catalog.
    private var catalogEntries: [CatalogKey: (config: CollectionConfig, readAt: ContinuousClock.Instant)] = [:]

    private struct HandleKey: Hashable {
        var tenant: Tenant
        var collectionId: String
    }

    private struct CatalogKey: Hashable {
        var tenant: Tenant
        var name: String
    }

    /// An engine over `storage`. `maintenance` holds the flush, compaction and
    /// garbage-collection thresholds and the clock; `jobs` is where background
    /// jobs go (nil runs them in the process that asks).
    public init(
        storage: any CloudStorage, maintenance: MaintenanceSettings = MaintenanceSettings(), limits: RequestLimits = RequestLimits(),
        jobs: (any CloudQueue)? = nil, logger: Logger = Logger(label: "proximadb.engine")
    ) {
        self.storage = Self.tallied(storage)
        self.maintenance = maintenance
        self.limits = limits
        self.jobs = jobs
        self.logger = logger
    }

    /// Where a tenant's objects live.
    public nonisolated func layout(_ tenant: Tenant) -> StorageLayout { StorageLayout(tenant: tenant.name) }

    /// A tenant's collection catalog.
    public nonisolated func catalog(_ tenant: Tenant) -> CollectionCatalog { CollectionCatalog(storage: storage, layout: layout(tenant)) }

    /// The object store, named without secrets (for `/health` and logs).
    public nonisolated var storageDescription: String { storage.description }

    /// The store with its requests counted per query (`RequestTally`); behind
    /// a cache, only what reaches the store counts.
    static func tallied(_ storage: any CloudStorage) -> any CloudStorage {
        if storage is TalliedStorage { return storage }
        if let cached = storage as? CachingStorage {
            return cached.over(tallied(cached.store))
        }
        return TalliedStorage(storage)
    }

    /// The unindexed WAL over the collections this process has open: bytes in
    /// all, and when the oldest write no index covers yet was made; as of each
    /// handle's last catch-up with the store (reading metrics costs no request).
    public func backlog() async -> (bytes: Int, oldestWrite: Int64?) {
        var bytes = 0
        var oldest: Int64?
        for handle in handles.values {
            let b = await handle.backlog()
            bytes += b.bytes
            if let o = b.oldestWrite { oldest = min(oldest ?? o, o) }
        }
        return (bytes, oldest)
    }

    /// Object-store requests (in total and per search) and cache tiers, in Prometheus text format.
    public nonisolated var storageMetricsText: String {
        var out = StorageMetrics.shared.render() + QueryMetrics.shared.render()
        if let cached = storage as? CachingStorage { out += cached.metricsText }
        return out
    }

    // MARK: collections

    /// Creates a collection in `tenant`'s catalog; `collection_exists` if the name is taken.
    public func createCollection(_ spec: CollectionSpec, tenant: Tenant) async throws(ProximaError) -> CollectionConfig {
        let config = try CollectionConfig(spec: spec, id: CollectionHandle.makeId(), now: maintenance.clock.nowMicros())
        let created = try await convertingErrors { try await catalog(tenant).create(config) }
        catalogEntries[CatalogKey(tenant: tenant, name: created.name)] = (created, .now)
        return created
    }

    /// Every collection of `tenant`, by name.
    public func listCollections(tenant: Tenant) async throws(ProximaError) -> [CollectionConfig] {
        try await convertingErrors { try await catalog(tenant).list() }
    }

    /// A collection's configuration and what it holds now.
    public func describeCollection(_ path: CollectionPath) async throws(ProximaError) -> (CollectionConfig, OpenCollection.Stats) {
        let collection = try await open(path)
        return (collection.config, try await collection.stats())
    }

    /// Applies a patch to a collection's configuration (compare-and-swap on the catalog).
    public func updateCollection(_ path: CollectionPath, _ patch: CollectionPatch) async throws(ProximaError) -> CollectionConfig {
        let now = maintenance.clock.nowMicros()
        // The next request notices the new config and rebuilds its handle (see `handle`).
        let updated = try await convertingErrors {
            try await catalog(path.tenant).update(path.name) { config in config = try config.applying(patch, now: now) }
        }
        catalogEntries[CatalogKey(tenant: path.tenant, name: path.name)] = (updated, .now)
        return updated
    }

    /// Drops a collection: its catalog entry at once, its data by a `drop` job (or at once without a queue).
    public func deleteCollection(_ path: CollectionPath) async throws(ProximaError) {
        catalogEntries[CatalogKey(tenant: path.tenant, name: path.name)] = nil
        let config = try await convertingErrors { try await catalog(path.tenant).delete(path.name) }
        handles[HandleKey(tenant: path.tenant, collectionId: config.id)] = nil
        // The catalog entry is gone, so the data is unreachable. With a queue a
        // worker deletes it (request handlers then need no right to delete
        // data); without one, it goes now.
        if jobs != nil {
            do { _ = try await submit(job(.drop, config, tenant: path.tenant)) } catch {
                logger.warning("could not queue the removal of deleted collection \(path)'s data: \(error)")
            }
            return
        }
        do { try await storage.deleteAll(prefix: layout(path.tenant).collectionPrefix(config.id)) } catch {
            logger.warning("could not remove data of deleted collection \(path): \(error)")
        }
    }

    // MARK: vectors

    /// A collection by path, for several operations on one catalog read.
    /// `forWrite` reads the catalog entry now; otherwise one read within
    /// `maintenance.catalogRecheck` is trusted (a collection dropped or
    /// reconfigured by another process shows up here that much later).
    public func open(_ path: CollectionPath, forWrite: Bool = true) async throws(ProximaError) -> OpenCollection {
        OpenCollection(handle: try await convertingErrors { try await handle(path, fresh: forWrite) }, limits: limits)
    }

    /// Validates and commits a write; acknowledged only once its WAL object is in the store.
    public func write(_ path: CollectionPath, _ intent: WriteIntent) async throws(ProximaError) -> WriteOutcome {
        try await open(path).write(intent)
    }

    /// Refuses a write early, before its body is decoded, when the
    /// collection's unindexed WAL is past its bound (429 `indexing_backlog`);
    /// the commit checks again.
    public func admitWrite(_ path: CollectionPath) async throws(ProximaError) {
        let collection = try await open(path, forWrite: false)
        try await convertingErrors { try await collection.handle.checkBacklog() }
    }

    /// One live record by id.
    public func getVector(_ path: CollectionPath, id: String) async throws(ProximaError) -> VectorRecord {
        try await open(path, forWrite: false).get(id)
    }

    /// Nearest neighbours of each query; strongly consistent (every
    /// acknowledged write is seen) unless the request asks for `eventual`.
    public func search(_ request: SearchRequest) async throws(ProximaError) -> [[SearchHit]] {
        let tally = RequestTally()
        // A collection this search opens cold starts reading the lists the first queries probe early (a filter may
        // change the plan; the request is not validated yet, so a few queries at most).
        let hint = request.exact || !(request.filter?.isTrivial ?? true)
            ? nil : ColdQueryHint(queries: Array(request.queries.prefix(8)), targetRecall: request.targetRecall)
        let hits = try await convertingErrors {
            try await RequestTally.$current.withValue(tally) {
                try await ColdQueryHint.$current.withValue(hint) { try await self.open(request.collection, forWrite: false).search(request) }
            }
        }
        QueryMetrics.shared.record(requests: tally.count, bytes: tally.bytes, consistency: request.consistency)
        return hits
    }

    /// Loads what a collection's queries read (segments, indexes) ahead of
    /// traffic; answers its stats and how many store requests that took.
    public func warm(_ path: CollectionPath) async throws(ProximaError) -> (OpenCollection.Stats, requests: Int) {
        let tally = RequestTally()
        let stats = try await convertingErrors {
            try await RequestTally.$current.withValue(tally) { try await self.open(path, forWrite: false).stats() }
        }
        return (stats, tally.count)
    }

    // MARK: background work

    /// Queues a job for a collection; with `wait`, answers once a worker has
    /// recorded what it did (or `waitTimeout` passes: then nil, and the job goes on).
    public func requestJob(
        _ path: CollectionPath, kind: JobKind, wait: Bool, waitTimeout: Duration = .seconds(300)
    ) async throws(ProximaError) -> (jobId: String, report: JobReport?) {
        let config = try await convertingErrors { try await catalog(path.tenant).get(path.name).config }
        let job = self.job(kind, config, tenant: path.tenant)
        let local = try await convertingErrors { try await submit(job) }
        guard wait else { return (job.jobId, nil) }
        try await convertingErrors { try await local?.value }
        await manifestMayHaveChanged(path.tenant, config.id)
        let key = layout(path.tenant).jobKey(config.id, job: job.jobId)
        let deadline = ContinuousClock.now + waitTimeout
        var pause = Duration.milliseconds(20)
        while ContinuousClock.now < deadline {
            if let bytes = try? await storage.get(key).bytes, let json = try? JSONParser.parse(bytes), let report = JobReport(json: json) {
                await manifestMayHaveChanged(path.tenant, config.id)
                return (job.jobId, report)
            }
            try await convertingErrors { try await Task.sleep(for: pause) }
            pause = min(pause * 2, .milliseconds(500))
        }
        return (job.jobId, nil)
    }

    /// Runs one job in this process (a queue-triggered function does this);
    /// follow-up jobs go to `jobs`.
    public nonisolated func runJob(_ job: JobMessage) async throws(ProximaError) {
        try await convertingErrors { try await Worker.execute(job, storage: storage, settings: maintenance, queue: jobs, logger: logger) }
        if let tenant = try? Tenant(job.tenant) { await manifestMayHaveChanged(tenant, job.collectionId) }
    }

    /// A job in this process may have published a manifest: the collection's
    /// handle lists them on its next read instead of waiting out `manifestRecheck`.
    func manifestMayHaveChanged(_ tenant: Tenant, _ collectionId: String) async {
        await handles[HandleKey(tenant: tenant, collectionId: collectionId)]?.manifestMayHaveChanged()
    }

    /// Queues the maintenance that is due on every collection of every
    /// tenant (see `Sweep`): in the serverless shape nothing else is awake to
    /// notice it. Answers what it queued.
    public nonisolated func sweep() async throws(ProximaError) -> SweepReport {
        guard let jobs else { throw ProximaError(.invalidConfig, "a sweep needs a job queue to send to") }
        return try await convertingErrors {
            try await Sweep(storage: storage, settings: maintenance, logger: logger).run(now: maintenance.clock.nowMicros()) { job in
                try await jobs.send(job.json)
            }
        }
    }

    /// Queues a flush when a handle's unflushed WAL passes its threshold.
    nonisolated func flushNeeded(_ config: CollectionConfig, tenant: Tenant) async {
        do { _ = try await submit(job(.flush, config, tenant: tenant)) } catch {
            logger.warning("could not queue a flush of \(config.name): \(error)")
        }
    }

    nonisolated func job(_ kind: JobKind, _ config: CollectionConfig, tenant: Tenant) -> JobMessage {
        JobMessage(
            kind: kind, tenant: tenant.name, collectionId: config.id, collection: config.name,
            jobId: JobMessage.newJobId(now: maintenance.clock.nowMicros()))
    }

    /// Sends a job to the queue; with no queue, starts it in this process and
    /// returns its task, for a caller that waits.
    nonisolated func submit(_ job: JobMessage) async throws -> Task<Void, any Error>? {
        guard let jobs else {
            let (storage, settings, logger) = (storage, maintenance, logger)
            return Task.detached { [weak self] in
                try await Worker.execute(job, storage: storage, settings: settings, queue: nil, logger: logger)
                if let tenant = try? Tenant(job.tenant) { await self?.manifestMayHaveChanged(tenant, job.collectionId) }
            }
        }
        try await jobs.send(job.json)
        return nil
    }

    // MARK: handles

    /// The handle for a collection. `fresh` reads the catalog now, so a
    /// collection dropped or recreated by another process is noticed before a
    /// write; otherwise a catalog read younger than `catalogRecheck` serves.
    func handle(_ path: CollectionPath, fresh: Bool = true) async throws -> CollectionHandle {
        let entryKey = CatalogKey(tenant: path.tenant, name: path.name)
        let config: CollectionConfig
        var hint: ManifestHint?
        if !fresh, let seen = catalogEntries[entryKey], ContinuousClock.now - seen.readAt < maintenance.catalogRecheck {
            config = seen.config
        } else {
            let readAt = ContinuousClock.now
            // The first open of a name in this process reads the manifest copy beside the entry, in the same round trip.
            let firstOpen = catalogEntries[entryKey] == nil
            let (storage, layout) = (storage, layout(path.tenant))
            async let hinted = firstOpen ? ManifestHint.read(storage, layout, name: path.name) : nil
            do {
                config = try await catalog(path.tenant).get(path.name).config
            } catch {
                catalogEntries[entryKey] = nil
                throw error
            }
            catalogEntries[entryKey] = (config, readAt)
            hint = await hinted
        }
        let key = HandleKey(tenant: path.tenant, collectionId: config.id)
        if let h = handles[key], h.config == config { return h }
        let tenant = path.tenant
        let h = CollectionHandle(
            config: config, storage: storage, layout: layout(tenant), logger: logger, settings: maintenance,
            onFlushNeeded: { [weak self] config in await self?.flushNeeded(config, tenant: tenant) },
            hint: handles[key] == nil && hint?.collectionId == config.id ? hint?.manifest : nil)
        if let old = handles[key] {
            // Config changed elsewhere: carry the materialised state over.
            await h.adopt(old)
        }
        handles[key] = h
        return h
    }
}
