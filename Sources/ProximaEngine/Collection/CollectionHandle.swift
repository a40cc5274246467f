import CoreMetrics
import Logging
import ProximaCloud
import ProximaCore
import ProximaFormat

/// One collection inside one process: its materialised state, kept current
/// from the WAL in the object store, and the group commit of its writes.
///
/// Writes queue here; one commit loop at a time takes every queued intent
/// whose ids do not overlap, resolves them against the caught-up state, and
/// publishes them as a single WAL object with a create-only put at the next
/// sequence. Losing that race to another process means: read what it wrote,
/// resolve again, try the next sequence. A write is acknowledged only after
/// its object exists.
actor CollectionHandle {
    let config: CollectionConfig
    let storage: any CloudStorage
    let layout: StorageLayout
    let logger: Logger
    let settings: MaintenanceSettings
    /// Called when the unflushed WAL passes the flush threshold (the engine queues a flush).
    let onFlushNeeded: @Sendable (CollectionConfig) async -> Void
    private(set) var state: CollectionState
    /// The newest manifest seen; `state` reflects it and the WAL after it.
    private(set) var manifest = Manifest.empty
    /// The manifest copy read beside the catalog entry (`ManifestHint`), for the first catch-up.
    private var hint: Manifest?
    /// Sizes of applied WAL objects the manifest does not cover yet, and when each was written.
    private var unflushed: [(sequence: Int64, bytes: Int, writtenAt: Int64)] = []
    private var lastFlushRequest: (bytes: Int, at: Int64)?
    private var queue: [Pending] = []
    private var committing = false
    /// Writes in the group whose WAL put is in flight.
    private var committingCount = 0

    private struct Pending {
        var intent: WriteIntent
        var continuation: CheckedContinuation<WriteOutcome, any Error>
    }

    /// Upper bound on entries grouped into one WAL object.
    static let maxEntriesPerCommit = 50_000

    /// When the state was last known to hold every WAL object then in the
    /// store: the moment before this handle's own last successful put (or
    /// before a catch-up's probe). A commit soon after skips the probe (one
    /// round trip on an object store): a newer object written by another
    /// process makes the create-only put fail, and the commit then catches up
    /// and resolves again. Only a hole garbage collection left could take a
    /// put unnoticed, and that needs a GC grace period to pass since this
    /// instant, which `filledACollectedHole` checks.
    private var walConfirmedAt: ContinuousClock.Instant?

    static func probeFreeWindow(_ settings: MaintenanceSettings) -> Duration {
        min(settings.manifestRecheck, Duration.microseconds(settings.gcGraceMicros) / 2)
    }

    init(
        config: CollectionConfig, storage: any CloudStorage, layout: StorageLayout, logger: Logger,
        settings: MaintenanceSettings = MaintenanceSettings(),
        onFlushNeeded: @escaping @Sendable (CollectionConfig) async -> Void = { _ in }, hint: Manifest? = nil
    ) {
        self.hint = hint
        self.config = config
        self.storage = storage
        self.layout = layout
        self.logger = logger
        self.settings = settings.applying(config)
        self.onFlushNeeded = onFlushNeeded
        self.state = CollectionState(dimension: config.dimension, metric: config.distanceMetric)
    }

    var unflushedBytes: Int { unflushed.reduce(0) { $0 + $1.bytes } }

    // MARK: reads

    /// Brings `state` up to every write acknowledged before the call: the
    /// newest manifest when it may have changed (its segments loaded, the
    /// tail it covers dropped), then the WAL after what is applied.
    ///
    /// The WAL probe alone is enough while the last manifest listing is
    /// younger than half the GC grace period: garbage collection deletes a WAL
    /// object only a grace period after a manifest covering it appeared, so
    /// every object after the applied sequence is still there to be found. A
    /// warm query then costs one request. Past that age, or when the WAL shows
    /// a gap, the manifests are listed again.
    ///
    /// A query may go on from the current state while a new manifest's
    /// segments load in the background (`mayRebaseLater`); `listingManifests`
    /// (stats, a write's check for a collected hole) lists them now and loads
    /// them in line.
    func catchUp(listingManifests: Bool = false) async throws {
        let before = viewVersion
        let manifests = ManifestStore(storage: storage, layout: layout, collectionId: config.id)
        var forceListing = listingManifests
        for _ in 0..<16 {
            var probed: (sequence: Int64, exists: Bool)?
            if forceListing || manifestListingIsStale {
                let listedAt = ContinuousClock.now
                var newer: Manifest?
                if let hint, hint.version > manifest.version {
                    self.hint = nil
                    // The hint's segments open while the listing confirms that it is the newest
                    // manifest: the listing then costs no round trip of its own.
                    let next = max(state.appliedSequence, hint.walThrough) + 1
                    async let listing = manifests.latest(after: hint.version)
                    async let probe = walObjectExists(next)
                    var opened = true
                    do { try await rebase(onto: hint) } catch is SegmentIO.Missing { opened = false }  // a newer one replaced it
                    newer = try await listing
                    if opened, newer == nil { probed = (next, try await probe) }
                    // Its segments gone and nothing newer listed: the regular path below tells lost from collected.
                    if !opened, newer == nil { newer = try await manifests.latest(after: manifest.version) }
                } else {
                    newer = try await manifests.latest(after: manifest.version)
                }
                if let newer, !listingManifests, mayRebaseLater(onto: newer) {
                    startRebase(onto: newer)
                } else if let newer {
                    // The WAL probe after the new manifest goes out while its segments open (same round).
                    let next = max(state.appliedSequence, newer.walThrough) + 1
                    async let probe = walObjectExists(next)
                    do {
                        // At a lower priority when queries are served meanwhile from the tail it covers.
                        try await rebase(onto: newer, inBackground: holdsEverything(in: newer))
                    } catch let missing as SegmentIO.Missing {
                        // Collected under us: fine if a newer manifest replaced it, else lost.
                        if try await manifests.latest(after: newer.version) != nil { continue }
                        throw ProximaError(.storageCorrupted, "segment \(missing.segment) of '\(config.name)' is missing")
                    }
                    probed = (next, try await probe)
                }
                manifestListedAt = listedAt
            }
            if try await applyWAL(probed: probed) {
                caughtUpAt = ContinuousClock.now
                lastCatchUpChangedNothing = viewVersion == before
                // A process that only reads (or restarted over a long WAL) asks for the flush too.
                await requestFlushIfNeeded()
                return
            }
            forceListing = true
        }
        // A gap no newer manifest explains, round after round: an object is lost.
        throw ProximaError(.storageCorrupted, "the WAL of '\(config.name)' has a gap after sequence \(state.appliedSequence)")
    }

    /// The manifest a rebase in the background is loading, and the last one
    /// whose background rebase failed (that one is then loaded in line).
    private var rebasing: Int64?
    private var failedRebase: Int64?

    /// Whether this state already holds every write `newer` covers (its WAL
    /// tail is applied, in memory): a flush or a compaction only moves rows
    /// from the tail into segments, so queries miss nothing while it loads.
    private func holdsEverything(in newer: Manifest) -> Bool {
        caughtUpAt != nil && newer.walThrough <= state.appliedSequence
    }

    /// Whether queries may go on from the current state while `newer`'s
    /// segments load in the background: when it `holdsEverything`. Objects
    /// the current state reads from (a cold segment compaction replaced) stay
    /// for the GC grace period, far longer than a load takes; with a short
    /// grace the load is done in line, as on a first load.
    private func mayRebaseLater(onto newer: Manifest) -> Bool {
        holdsEverything(in: newer) && settings.gcGraceMicros >= 60_000_000 && failedRebase != newer.version
    }

    /// Loads `m` in a task of its own (detached: its requests are not the
    /// current query's), unless a load of it or a newer one is under way.
    /// The WAL `m` covers is indexed from now on, loaded here or not.
    private func startRebase(onto m: Manifest) {
        guard m.version > manifest.version, (rebasing ?? 0) < m.version else { return }
        unflushed.removeAll { $0.sequence <= m.walThrough }
        rebasing = m.version
        Task.detached(executorPreference: MaintenanceExecutor.shared) { [weak self] in await self?.finishRebase(onto: m) }
    }

    private func finishRebase(onto m: Manifest) async {
        do {
            try await rebase(onto: m, inBackground: true)
        } catch {
            logger.warning("loading manifest \(m.version) of '\(config.name)' in the background failed (\(error)); the next read loads it in line")
            failedRebase = m.version
            manifestListedAt = nil
        }
        if rebasing == m.version { rebasing = nil }
    }

    /// When the manifests were last listed (nil: never).
    private(set) var manifestListedAt: ContinuousClock.Instant?
    /// When `state` last reflected every acknowledged write.
    private(set) var caughtUpAt: ContinuousClock.Instant?

    private var manifestListingIsStale: Bool {
        guard let at = manifestListedAt else { return true }
        let grace = Duration.microseconds(settings.gcGraceMicros)
        return ContinuousClock.now - at >= min(settings.manifestRecheck, grace / 2)
    }

    /// The manifest being loaded, and the load, which a caller wanting that
    /// manifest (or an older one) waits for rather than loading it again.
    private var loading: (version: Int64, load: Task<Void, any Error>)?

    /// Makes `state` the segments of `m` plus the tail after it: segments
    /// already loaded are kept as they are, the others read with their indexes.
    /// `inBackground`: no query waits for it, so its decoding runs at a lower priority.
    /// Callers arriving while it loads share the load: under a stream of
    /// writes refused for a backlog, each would otherwise decode the new
    /// segments again, at once.
    private func rebase(onto m: Manifest, inBackground: Bool = false) async throws {
        guard m.version > manifest.version else { return }
        if let current = loading, current.version >= m.version {
            try await current.load.value
            return
        }
        let load = Task { try await self.load(m, inBackground: inBackground) }
        loading = (m.version, load)
        defer { if loading?.version == m.version { loading = nil } }
        try await load.value
    }

    private func load(_ m: Manifest, inBackground: Bool) async throws {
        let io = SegmentIO(storage: storage, layout: layout, config: config)
        let loaded = Dictionary(state.view.segments.map { ($0.data.id, $0.data) }, uniquingKeysWith: { a, _ in a })
        // Segments open together: a cold start pays one segment's round trips, not the sum.
        // Under a memory budget segments open cold; half the budget may go to graphs mapped from local disk.
        let cold = settings.memoryBudgetBytes.map { ColdOpening(graphLimit: $0 / 2) }
        let opened = try await withThrowingTaskGroup(of: (Int, LoadedSegment).self) { group in
            for (i, segment) in m.segments.enumerated() where loaded[segment.id] == nil {
                group.addTask { (i, try await Self.open(segment, io: io, cold: cold, inBackground: inBackground)) }
            }
            var out: [Int: LoadedSegment] = [:]
            for try await (i, s) in group { out[i] = s }
            return out
        }
        let segments = m.segments.enumerated().map { i, segment in loaded[segment.id] ?? opened[i]! }
        // Masking rows newer segments replace looks up every id of one side of each pair:
        // hundreds of milliseconds at a million rows, so not on this actor, where queries wait.
        let (dimension, metric, newSegments) = (config.dimension, config.distanceMetric, segments)
        let build = { @Sendable in CollectionView(dimension: dimension, metric: metric, segments: newSegments) }
        let view: CollectionView
        if inBackground { view = await ComputeQueue.inBackground(build) } else { view = await ComputeQueue.run(build) }
        // Another caller may have rebased while this one read.
        guard m.version > manifest.version else { return }
        // Carrying over the tail the manifest does not cover (up to the backlog bound, ~100k rows) is
        // done off this actor as well; only what was applied meanwhile is appended on it.
        let before = state
        let walThrough = m.walThrough
        let carry = { @Sendable in
            var next = before
            next.rebase(onto: view, walThrough: walThrough)
            return next
        }
        var next = inBackground ? await ComputeQueue.inBackground(carry) : await ComputeQueue.run(carry)
        guard m.version > manifest.version else { return }
        next.append(tailOf: state)
        state = next
        manifest = m
        unflushed.removeAll { $0.sequence <= m.walThrough }
        lastFlushRequest = nil
    }

    /// One segment of a manifest: opened cold (ranged reads, when there is a
    /// memory budget and its layout allows) or read whole with its index.
    private static func open(_ segment: Manifest.Segment, io: SegmentIO, cold: ColdOpening?, inBackground: Bool) async throws -> LoadedSegment {
        if let cold, let s = try await io.openCold(segment, graphLimit: cold.graphLimit) { return s }
        async let rows = io.read(segment, inBackground: inBackground)
        async let index = io.readIndexFile(segment)
        let (r, i) = try await (rows, index)
        let dimension = io.config.dimension
        do {
            let load = { @Sendable in try LoadedSegment(id: segment.id, rows: r, dimension: dimension, indexFile: i) }
            return try await inBackground ? ComputeQueue.inBackground(load) : ComputeQueue.run(load)
        } catch {
            throw ProximaError(.storageCorrupted, "index of segment \(segment.id) of '\(io.config.name)' is unreadable: \(error)")
        }
    }

    /// How segments open under a memory budget.
    struct ColdOpening: Sendable {
        var graphLimit: Int
    }

    /// Applies the WAL objects after the applied sequence. Probes the next key
    /// first, so an up-to-date handle pays one small request. False when the
    /// WAL has a gap (objects collected meanwhile): the caller rereads the manifest.
    /// `probed`: whether a WAL object was found at a sequence, asked
    /// alongside other reads; used instead of probing again when it is the next one.
    private func applyWAL(probed: (sequence: Int64, exists: Bool)? = nil) async throws -> Bool {
        let next = state.appliedSequence + 1
        let exists: Bool
        if let probed, probed.sequence == next { exists = probed.exists } else { exists = try await walObjectExists(next) }
        guard exists else { return true }
        let after = layout.walKey(config.id, sequence: state.appliedSequence)
        for object in try await storage.listAll(prefix: layout.walPrefix(config.id), startAfter: after) {
            guard let seq = StorageLayout.sequence(fromKey: object.key) else { continue }
            if seq <= state.appliedSequence { continue }
            guard seq == state.appliedSequence + 1 else { return false }
            let bytes: [UInt8]
            do {
                bytes = try await storage.get(object.key).bytes
            } catch let e as StorageError where e.kind == .notFound {
                return false
            }
            let entries: [WALEntry]
            do {
                entries = try WALCodec.decode(bytes)
            } catch {
                throw ProximaError(.storageCorrupted, "WAL object \(seq) of '\(config.name)' is unreadable: \(error)")
            }
            // Another caller may have applied it while we awaited the read.
            if seq == state.appliedSequence + 1 { applied(entries, sequence: seq, bytes: bytes.count) }
        }
        return true
    }

    /// Whether the WAL object at `sequence` exists (one HEAD).
    private func walObjectExists(_ sequence: Int64) async throws -> Bool {
        do {
            _ = try await storage.head(layout.walKey(config.id, sequence: sequence))
            return true
        } catch let e as StorageError where e.kind == .notFound {
            return false
        }
    }

    private func applied(_ entries: [WALEntry], sequence: Int64, bytes: Int) {
        state.apply(entries, sequence: sequence)
        if sequence > manifest.walThrough { unflushed.append((sequence, bytes, entries.first?.record.timestamp ?? 0)) }
    }

    /// When the oldest write no segment holds yet was made (nil: none).
    var oldestUnflushedWrite: Int64? { unflushed.map(\.writtenAt).min() }

    /// The unindexed WAL this handle knows of, for `/metrics`.
    func backlog() -> (bytes: Int, oldestWrite: Int64?) { (unflushedBytes, oldestUnflushedWrite) }

    /// Refuses a write while the unindexed WAL is past its bound, after
    /// checking for a flush this process has not seen yet. Called before a
    /// request's body is decoded too, so a refused write costs no parsing.
    func checkBacklog() async throws {
        guard unflushedBytes > settings.maxUnindexedBytes else { return }
        // A flush's manifest says how much it took; its segments load in the background
        // when queries may go on without them (a refusal waits for no decoding).
        let manifests = ManifestStore(storage: storage, layout: layout, collectionId: config.id)
        if let newer = try await manifests.latest(after: manifest.version) {
            if mayRebaseLater(onto: newer) { startRebase(onto: newer) } else { try await catchUp(listingManifests: true) }
        }
        let backlog = unflushedBytes
        guard backlog > settings.maxUnindexedBytes else { return }
        await requestFlushIfNeeded(force: true)
        // Time for flushes to take the excess at a modest 16 MB/s.
        let seconds = max(1, min(60, (backlog - settings.maxUnindexedBytes) / (16 << 20) + 1))
        throw ProximaError(
            .indexingBacklog,
            "'\(config.name)' has \(backlog) bytes of writes not yet indexed (bound \(settings.maxUnindexedBytes)); try again in \(seconds) s",
            retryAfterSeconds: seconds)
    }

    /// Asks for a flush once the unflushed WAL passes the threshold or its
    /// oldest write is `flushAfterMicros` old (a tail under the threshold is
    /// indexed too, not scanned by every query for ever), and again if it
    /// grows by another threshold or a minute passes without a manifest.
    /// `force`: whatever the threshold (the backlog bound is passed).
    private func requestFlushIfNeeded(force: Bool = false) async {
        let bytes = unflushedBytes
        let now = settings.clock.nowMicros()
        let aged = settings.flushAfterMicros.map { after in oldestUnflushedWrite.map { now - $0 >= after } ?? false } ?? false
        guard force || bytes >= settings.flushThresholdBytes || aged else { return }
        if let last = lastFlushRequest, bytes < last.bytes + settings.flushThresholdBytes, now - last.at < 60_000_000 { return }
        lastFlushRequest = (bytes, now)
        await onFlushNeeded(config)
    }

    func read<T: Sendable>(_ body: (CollectionState) throws -> T) async throws -> T {
        try await catchUp()
        return try body(state)
    }

    /// The live record `id` as of every acknowledged write, its vector read
    /// from its segment when that was opened cold.
    func record(_ id: String, now: Int64) async throws -> VectorRecord? {
        try await catchUp()
        let view = state.view
        guard var record = state.record(id, now: now) else { return nil }
        if record.vector.isEmpty, let (vectors, row) = view.coldLocation(of: id) { record.vector = try await vectors.vectors([row])[0] }
        return record
    }

    /// Vectors of the records updates without a vector keep, where those
    /// live in cold segments: read before resolving (which does no I/O), by
    /// id with the version read.
    private func coldVectors(for group: [Pending], now: Int64) async throws -> [String: (version: Int64, vector: [Float])] {
        let view = state.view
        var wanted: [(id: String, version: Int64, vectors: ColdVectors, row: Int)] = []
        for p in group {
            guard case .update(let id, nil, _, _) = p.intent, let record = state.record(id, now: now), record.vector.isEmpty,
                let (vectors, row) = view.coldLocation(of: id)
            else { continue }
            wanted.append((id, record.version, vectors, row))
        }
        // Read together: one round whatever the number of updates.
        return try await withThrowingTaskGroup(of: (String, Int64, [Float]).self) { group in
            for w in wanted { group.addTask { (w.id, w.version, try await w.vectors.vectors([w.row])[0]) } }
            var out: [String: (version: Int64, vector: [Float])] = [:]
            for try await (id, version, vector) in group { out[id] = (version, vector) }
            return out
        }
    }

    /// What a view reflects: the manifest it is built on and the WAL applied
    /// after it. Two views of one version answer every query alike.
    struct ViewVersion: Equatable {
        var manifest: Int64
        var wal: Int64
    }

    var viewVersion: ViewVersion { ViewVersion(manifest: manifest.version, wal: state.appliedSequence) }

    /// Whether the last catch-up left the view as it found it.
    private var lastCatchUpChangedNothing = false

    /// The view as it stands, for a strong read to search while its catch-up
    /// is in flight (kept if the catch-up changes nothing). Nil when the last
    /// catch-up changed the view or a newer manifest is loading: a guess would
    /// most likely be searched for nothing.
    func guess() -> (view: CollectionView, version: ViewVersion)? {
        guard caughtUpAt != nil, lastCatchUpChangedNothing, rebasing == nil else { return nil }
        return (state.view, viewVersion)
    }

    /// The collection as of every acknowledged write, for a query to search
    /// without holding this actor (writes go on meanwhile). `eventual`: as of
    /// at most `settings.eventualStaleness` ago, with no request when a
    /// catch-up was that recent (one is started in the background when it is
    /// half that old).
    func snapshot(_ consistency: Consistency) async throws -> (view: CollectionView, version: ViewVersion) {
        if consistency == .eventual, let at = caughtUpAt {
            let age = ContinuousClock.now - at
            if age < settings.eventualStaleness {
                if age >= settings.eventualStaleness / 2, !refreshing {
                    refreshing = true
                    Task {
                        try? await self.catchUp()
                        self.refreshed()
                    }
                }
                return (state.view, viewVersion)
            }
        }
        try await catchUp()
        return (state.view, viewVersion)
    }

    private var refreshing = false
    private func refreshed() { refreshing = false }

    /// Lists the manifests on the next catch-up (this process published one).
    func manifestMayHaveChanged() { manifestListedAt = nil }

    /// What the collection holds, with the newest manifest listed (one request more than a query).
    func stats(now: Int64) async throws -> OpenCollection.Stats {
        try await catchUp(listingManifests: true)
        var stats = OpenCollection.Stats(
            vectorCount: 0, vectorBytes: 0, walSequence: state.appliedSequence,
            manifestVersion: manifest.version, segmentCount: manifest.segments.count, unflushedWALBytes: unflushedBytes,
            oldestUnflushedWrite: oldestUnflushedWrite,
            indexedSegments: state.view.indexedSegments, localGraphSegments: state.view.localGraphSegments)
        // Counted off this actor, where writes and queries wait, from the same snapshot.
        let view = state.view
        let counts = await ComputeQueue.run { view.visibleCounts(now: now) }
        stats.vectorCount = counts.live
        stats.vectorBytes = counts.visible * config.dimension * 4
        return stats
    }

    /// Waits until the graphs of cold segments being copied to local disk are mapped (or given up).
    func settleLocalGraphs() async {
        for s in state.view.segments { await s.data.cold?.graph?.settle() }
    }

    // MARK: writes

    /// Writes accepted and not yet answered: queued, or in the put in flight.
    var unansweredWrites: Int { queue.count + committingCount }

    func write(_ intent: WriteIntent) async throws -> WriteOutcome {
        try await withCheckedThrowingContinuation { continuation in
            queue.append(Pending(intent: intent, continuation: continuation))
            if !committing {
                committing = true
                Task { await self.commitLoop() }
            }
        }
    }

    private func commitLoop() async {
        while !queue.isEmpty {
            var group: [Pending] = []
            var deferred: [Pending] = []
            var claimed = Set<String>()
            var groupHasFilterDelete = false
            var entryCount = 0
            for pending in queue {
                // Ids touched twice in one object would share a version: the second waits for the next object.
                // A delete by filter touches ids unknown until resolved, so it commits alone.
                let ids = pending.intent.declaredIds
                let overlaps = groupHasFilterDelete || (ids.map { !claimed.isDisjoint(with: $0) } ?? !group.isEmpty)
                if overlaps || entryCount >= Self.maxEntriesPerCommit {
                    deferred.append(pending)
                    continue
                }
                group.append(pending)
                if let ids { claimed.formUnion(ids) } else { groupHasFilterDelete = true }
                if case .insert(let records, _) = pending.intent { entryCount += records.count } else { entryCount += 1 }
            }
            queue = deferred
            committingCount = group.count
            await commit(group)
            committingCount = 0
        }
        committing = false
    }

    private func commit(_ group: [Pending]) async {
        var attempt = 0
        while true {
            attempt += 1
            var probedAt = ContinuousClock.now
            do {
                if attempt == 1, let confirmed = walConfirmedAt, probedAt - confirmed < Self.probeFreeWindow(settings), !manifestListingIsStale {
                    probedAt = confirmed  // see `walConfirmedAt`: the put itself finds a newer object
                } else {
                    try await catchUp()
                    walConfirmedAt = probedAt
                }
                try await checkBacklog()
            } catch {
                for p in group { p.continuation.resume(throwing: ProximaError(converting: error)) }
                return
            }
            let now = settings.clock.nowMicros()
            let kept: [String: (version: Int64, vector: [Float])]
            do {
                kept = try await coldVectors(for: group, now: now)
            } catch {
                for p in group { p.continuation.resume(throwing: ProximaError(converting: error)) }
                return
            }
            let sequence = state.appliedSequence + 1
            var entries: [WALEntry] = []
            var outcomes: [(Int, Result<WriteOutcome, ProximaError>)] = []
            var touched = Set<String>()
            for (i, p) in group.enumerated() {
                do throws(ProximaError) {
                    let resolved = try p.intent.resolve(
                        against: state, collectionId: config.id, defaultTTL: config.defaultTTLMicros, now: now,
                        keptVectors: kept, makeId: Self.makeId)
                    if !touched.isDisjoint(with: resolved.touchedIds) {
                        // Only generated ids or filters can collide here; keep versions unique.
                        throw ProximaError(.conflict, "concurrent writes to the same ids; try again")
                    }
                    touched.formUnion(resolved.touchedIds)
                    entries.append(contentsOf: resolved.entries)
                    outcomes.append((i, .success(resolved.outcome)))
                } catch {
                    outcomes.append((i, .failure(error)))
                }
            }
            if entries.isEmpty {
                for (i, r) in outcomes { group[i].continuation.resume(with: r.mapError { $0 as any Error }) }
                return
            }
            for j in entries.indices {
                entries[j].sequence = sequence
                entries[j].entryId = "\(sequence)-\(j)"
                entries[j].record.version = sequence
            }
            var sync = [UInt8](repeating: 0, count: 16)
            for j in 0..<16 { sync[j] = UInt8.random(in: 0...255) }
            var bytes = WALCodec.encode(entries, sync: sync, reusing: WarmBuffers.takeWALBuffer())
            defer { WarmBuffers.give(walBuffer: &bytes) }
            let key = layout.walKey(config.id, sequence: sequence)
            let putAt = ContinuousClock.now
            do {
                try await storage.put(key, bytes, condition: .createOnly)
                if try await filledACollectedHole(sequence, entries: entries, since: probedAt) {
                    try? await storage.delete(key)
                    continue
                }
            } catch let e as StorageError where e.kind == .preconditionFailed && attempt < 1000 {
                continue  // another writer took this sequence: catch up and resolve again
            } catch {
                for p in group { p.continuation.resume(throwing: ProximaError(converting: error)) }
                return
            }
            applied(entries, sequence: sequence, bytes: bytes.count)
            walConfirmedAt = putAt
            Counter(label: "proximadb_wal_appends_total").increment()
            Recorder(label: "proximadb_wal_append_records", aggregate: true).record(entries.count)
            Recorder(label: "proximadb_wal_append_bytes", aggregate: true).record(bytes.count)
            for (i, r) in outcomes {
                group[i].continuation.resume(with: r.map { outcome in
                    var o = outcome
                    if var rec = o.record { rec.version = sequence; o.record = rec }
                    return o
                }.mapError { $0 as any Error })
            }
            await requestFlushIfNeeded()
            return
        }
    }

    /// Whether the WAL object just created at `sequence` took the place of
    /// one garbage collection deleted after a manifest covered it: then no
    /// segment holds it, and it must not be acknowledged. Possible only when
    /// the write took longer than the GC grace period from its catch-up to its
    /// put (the deleted object was written after the probe, flushed, and
    /// collected a grace period later), so only then does it cost a listing.
    /// A manifest covering `sequence` may also have flushed this very object
    /// (put, flushed, collected in the meantime): the rows tell which. Each
    /// of this object's ids is then at its sequence or later (overwritten);
    /// after a hole, ids the other object did not write are older.
    private func filledACollectedHole(_ sequence: Int64, entries: [WALEntry], since probedAt: ContinuousClock.Instant) async throws -> Bool {
        guard ContinuousClock.now - probedAt >= Duration.microseconds(settings.gcGraceMicros) else { return false }
        let manifests = ManifestStore(storage: storage, layout: layout, collectionId: config.id)
        guard let newer = try await manifests.latest(after: manifest.version), newer.walThrough >= sequence else { return false }
        try await catchUp(listingManifests: true)
        return entries.contains { (state.newestSequence($0.record.id) ?? 0) < sequence }
    }

    static func makeId() -> String {
        var g = SystemRandomNumberGenerator()
        var b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        let hex = b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
    }
}

extension CollectionHandle {
    /// Takes over another handle's materialised state (same collection, newer config).
    func adopt(_ other: CollectionHandle) async {
        let (s, m, u) = await (other.state, other.manifest, other.unflushed)
        let (listed, caught) = await (other.manifestListedAt, other.caughtUpAt)
        if s.appliedSequence > state.appliedSequence {
            state = s
            manifest = m
            unflushed = u
            manifestListedAt = listed
            caughtUpAt = caught
        }
    }
}
