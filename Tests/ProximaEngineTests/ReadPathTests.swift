import Synchronization
import ProximaCloud
import ProximaTesting
import Testing
@testable import ProximaCore
import ProximaFormat
@testable import ProximaEngine

/// What a query costs and holds: requests to the object store per warm
/// query, and that searching never holds up the collection's writes.
@Suite struct ReadPathTests {
    func engine(_ storage: any CloudStorage, clock: ManualClock = ManualClock(), manifestRecheck: Duration = .seconds(30)) -> Engine {
        var settings = MaintenanceSettings()
        settings.clock = clock
        settings.flushThresholdBytes = 1 << 40
        settings.manifestRecheck = manifestRecheck
        settings.catalogRecheck = .seconds(30)
        settings.eventualStaleness = .seconds(30)
        return Engine(storage: storage, maintenance: settings, logger: quietLogger)
    }

    /// The error `body` throws, or nil.
    func failure(_ body: () async throws -> WriteOutcome) async -> ProximaError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return (error as? ProximaError) ?? ProximaError(.internalError, "\(error)")
        }
    }

    func query(_ engine: Engine, _ v: [Float], consistency: Consistency = .strong) async throws -> [String] {
        try await engine.search(
            SearchRequest(collection: "c", queries: [v], k: 3, consistency: consistency)
        )[0].map(\.record.id)
    }

    /// A warm, strongly consistent query costs one request (the WAL probe);
    /// an eventual one none; and a strong one still sees what another process
    /// wrote a moment ago, flushed or not.
    @Test func warmQueriesCostOneRequestAndStayConsistent() async throws {
        let storage = MemoryStorage()
        // The reader's own requests (the writer may still load its flush's segment meanwhile); it makes no writes.
        let reads = ReadLog(storage)
        let reader = engine(reads), writer = engine(storage)
        _ = try await writer.createCollection(CollectionSpec(name: "c", dimension: 2, distanceMetric: .euclidean), tenant: .default)
        for i in 0..<50 { _ = try await writer.write("c", .insert([.init(id: "v\(i)", vector: [Float(i), 0])], upsert: false)) }
        _ = try await writer.requestJob("c", kind: .flush, wait: true)
        _ = try await writer.write("c", .insert([.init(id: "tail", vector: [100, 0])], upsert: false))

        #expect(try await query(reader, [100, 0]).first == "tail")
        var before = reads.log.count
        for i in 0..<20 { #expect(try await query(reader, [Float(i), 0]).first == "v\(i)") }
        #expect(reads.log.count - before == 20, "strong warm queries: one request each")
        before = reads.log.count
        _ = try await reader.getVector("c", id: "v3")
        #expect(reads.log.count - before == 1)

        before = reads.log.count
        for i in 0..<20 { _ = try await query(reader, [Float(i), 0], consistency: .eventual) }
        #expect(reads.log.count == before, "eventual warm queries: no request")

        // Strong reads see a write made elsewhere at once; eventual ones may lag by the staleness bound.
        _ = try await writer.write("c", .insert([.init(id: "new", vector: [200, 0])], upsert: false))
        _ = try await writer.write("c", .delete(ids: ["v7"], requireExisting: true))
        #expect(try await query(reader, [200, 0]).first == "new")
        #expect(try await query(reader, [7, 0]).first != "v7")
        // A flush elsewhere changes nothing a query sees, before or after this process notices it.
        _ = try await writer.requestJob("c", kind: .flush, wait: true)
        #expect(try await query(reader, [200, 0]).first == "new")
        #expect(try await reader.open("c").stats().vectorCount == 51)
    }

    /// A process that lists manifests again after `manifestRecheck` serves the
    /// flushed records from segments with their indexes, not from its tail.
    @Test func aNewManifestIsPickedUpAfterTheRecheckInterval() async throws {
        let storage = MemoryStorage()
        let reader = engine(storage, manifestRecheck: .milliseconds(50)), writer = engine(storage)
        _ = try await writer.createCollection(CollectionSpec(name: "c", dimension: 2, distanceMetric: .euclidean), tenant: .default)
        for i in 0..<10 { _ = try await writer.write("c", .insert([.init(id: "v\(i)", vector: [Float(i), 0])], upsert: false)) }
        #expect(try await reader.open("c").stats().segmentCount == 0)
        _ = try await writer.requestJob("c", kind: .flush, wait: true)
        try await Task.sleep(for: .milliseconds(60))
        let stats = try await reader.open("c").stats()
        #expect(stats.segmentCount == 1 && stats.unflushedWALBytes == 0 && stats.vectorCount == 10)
        #expect(try await query(reader, [4, 0]).first == "v4")
    }

    /// A query that finds a new manifest answers from the state it has (the
    /// flushed rows are in its tail already) while the manifest's segments
    /// load in the background; then the state is the new manifest's.
    @Test func aNewManifestLoadsInTheBackgroundWhileQueriesGoOn() async throws {
        let storage = MemoryStorage()
        let reader = engine(storage, manifestRecheck: .milliseconds(50)), writer = engine(storage)
        _ = try await writer.createCollection(CollectionSpec(name: "c", dimension: 2, distanceMetric: .euclidean), tenant: .default)
        for i in 0..<10 { _ = try await writer.write("c", .insert([.init(id: "v\(i)", vector: [Float(i), 0])], upsert: false)) }
        #expect(try await query(reader, [4, 0]).first == "v4")
        _ = try await writer.requestJob("c", kind: .flush, wait: true)
        _ = try await writer.write("c", .delete(ids: ["v4"], requireExisting: true))
        try await Task.sleep(for: .milliseconds(60))
        let nearest = try await query(reader, [4, 0]).first
        #expect(nearest == "v3" || nearest == "v5")
        let handle = try await reader.open("c", forWrite: false).handle
        var loaded = false
        for _ in 0..<100 where !loaded {
            loaded = await handle.manifest.version == 1
            if !loaded { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(loaded, "the flush's manifest was never loaded")
        #expect(await handle.state.view.segments.count == 1)
        #expect(try await query(reader, [4, 0]).first != "v4")
        #expect(try await query(reader, [7, 0]).first == "v7")
    }

    /// A search runs on a snapshot, outside the collection: writes to the
    /// same collection are acknowledged while a long search is still running.
    @Test func searchesDoNotHoldUpWrites() async throws {
        let storage = MemoryStorage()
        let engine = engine(storage)
        let dim = 32
        _ = try await engine.createCollection(CollectionSpec(name: "c", dimension: dim), tenant: .default)
        var rng = SplitMix64(seed: 7)
        var batch: [WriteIntent.NewRecord] = []
        for i in 0..<20_000 {
            batch.append(.init(id: "v\(i)", vector: (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }))
            if batch.count == 5_000 {
                _ = try await engine.write("c", .insert(batch, upsert: false))
                batch = []
            }
        }
        let queries = (0..<400).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        let search = Task {
            _ = try await engine.search(SearchRequest(collection: "c", queries: queries, k: 10, exact: true))
            return ContinuousClock.now
        }
        // Let the search take its snapshot, then write while it scans.
        try await Task.sleep(for: .milliseconds(200))
        var written: [ContinuousClock.Instant] = []
        for i in 0..<5 {
            _ = try await engine.write("c", .insert([.init(id: "w\(i)", vector: [Float](repeating: 0.5, count: dim))], upsert: false))
            written.append(.now)
        }
        let searched = try await search.value
        #expect(written.allSatisfy { $0 < searched }, "writes waited for the search")
        #expect(try await engine.getVector("c", id: "w4").id == "w4")
    }

    /// A writer faster than indexing (here: nobody runs the queued flushes)
    /// gets 429 `indexing_backlog` with a retry time once the unindexed WAL
    /// passes `max_unindexed_bytes`; what was acknowledged stays, the backlog
    /// stays within the bound plus one write, and writes go through again
    /// once a flush has run.
    @Test func writesPastTheIndexingBacklogAreRefused() async throws {
        let storage = MemoryStorage()
        let clock = ManualClock()
        let queue = MemoryQueue(clock: clock)
        var settings = MaintenanceSettings()
        settings.clock = clock
        settings.flushThresholdBytes = 8 << 10
        let engine = Engine(storage: storage, maintenance: settings, jobs: queue, logger: quietLogger)
        _ = try await engine.createCollection(
            CollectionSpec(name: "c", dimension: 8, distanceMetric: .euclidean, settings: ["max_unindexed_bytes": .int(32 << 10)]), tenant: .default)
        var acknowledged: [String] = []
        var refused: ProximaError?
        for batch in 0..<100 {
            let records = (0..<20).map { i in WriteIntent.NewRecord(id: "b\(batch)-\(i)", vector: [Float](repeating: Float(batch), count: 8)) }
            refused = await failure { try await engine.write("c", .insert(records, upsert: false)) }
            if refused != nil { break }
            acknowledged += records.compactMap(\.id)
        }
        #expect(refused?.code == .indexingBacklog)
        #expect((refused?.retryAfterSeconds ?? 0) >= 1)
        let stats = try await engine.open("c").stats()
        #expect(stats.unflushedWALBytes > 32 << 10 && stats.unflushedWALBytes < (32 << 10) + (8 << 10))
        #expect(stats.oldestUnflushedWrite != nil)
        #expect(stats.vectorCount == acknowledged.count)
        #expect(queue.depth >= 1, "the flush was asked for")
        // Indexing catches up: the queued flushes run, and writes are accepted again.
        while let message = try await queue.receive(max: 1, visibilityTimeoutSeconds: 60, waitSeconds: 0).first {
            try await engine.runJob(try #require(JobMessage(json: message.body)))
            try await queue.delete(receipt: message.receipt)
        }
        _ = try await engine.write("c", .insert([.init(id: "after", vector: [Float](repeating: 1, count: 8))], upsert: false))
        let fresh = Engine(storage: storage, maintenance: settings, logger: quietLogger)
        #expect(try await fresh.open("c").stats().vectorCount == acknowledged.count + 1)
        for id in acknowledged.shuffled().prefix(20) { #expect(try await fresh.getVector("c", id: id).id == id) }
    }
}

/// Masking between segments skips pairs whose id bounds (UTF-8 order) do not
/// overlap, and never one that shares an id, even at a bound or where UTF-8
/// order and `String`'s own order differ.
@Suite struct SegmentMaskingTests {
    func segment(_ name: String, _ ids: [(String, deleted: Bool)], version: Int64) -> LoadedSegment {
        let rows = ids.map { SegmentRow(record: VectorRecord(id: $0.0, vector: $0.deleted ? [] : [1, 0], version: version), deleted: $0.deleted) }
        return LoadedSegment(id: name, rows: rows, dimension: 2, index: nil)
    }

    func visible(_ view: CollectionView) -> Set<String> {
        var out = Set<String>()
        for s in view.segments { s.masked.forEachClear { r in out.insert("\(s.data.id):\(s.data.ids[r])") } }
        return out
    }

    @Test func pairsWithoutACommonIdAreSkippedOthersMasked() {
        let a = segment("a", [("b", false), ("m", false)], version: 1)
        let b = segment("b", [("m", false), ("q", false)], version: 2)  // shares "m", at a's greatest bound
        let c = segment("c", [("r", false), ("z", false)], version: 3)  // after everything: skipped
        let d = segment("d", [("é", false), ("b", true)], version: 4)  // "é" sorts after "z" in UTF-8; deletes "b"
        #expect(a.idBounds! == ("b", "m") && d.idBounds! == ("b", "é"))
        let view = CollectionView(dimension: 2, metric: .euclidean, segments: [a, b, c, d])
        #expect(visible(view) == ["b:m", "b:q", "c:r", "c:z", "d:é"])
    }

    /// Rows in id order (as flush and compaction write them) are found by
    /// binary search, unordered or non-ASCII ones by a table: both give the
    /// same rows, the same winners among duplicates, and treat canonically
    /// equivalent ids as one, as the rest of the engine does.
    @Test func sortedAndUnsortedSegmentsFindTheSameRows() {
        func rows(_ spec: [(String, Int64, Bool)]) -> [SegmentRow] {
            spec.map { SegmentRow(record: VectorRecord(id: $0.0, vector: $0.2 ? [] : [1, 0], version: $0.1), deleted: $0.2) }
        }
        // Live rows sorted, then tombstones sorted; "b" twice among the live rows, "c" live and deleted, "K" once.
        let spec: [(String, Int64, Bool)] = [
            ("K", 1, false), ("a", 1, false), ("b", 3, false), ("b", 2, false), ("c", 5, false), ("d", 1, false),
            ("c", 6, true), ("e", 1, true),
        ]
        let sorted = LoadedSegment(id: "s", rows: rows(spec), dimension: 2, index: nil)
        let shuffled = LoadedSegment(id: "u", rows: rows([spec[5], spec[2], spec[0], spec[7], spec[4], spec[1], spec[6], spec[3]]), dimension: 2, index: nil)
        for segment in [sorted, shuffled] {
            func answer(_ id: String) -> (Int64, Bool)? { segment.row(of: id).map { (segment.versions[$0], segment.tombstones[$0]) } }
            #expect(answer("a")! == (1, false))
            #expect(answer("b")! == (3, false), "the higher version of a duplicate answers")
            #expect(answer("c")! == (6, true), "the tombstone's newer version answers")
            #expect(answer("e")! == (1, true))
            #expect(answer("K")! == (1, false))
            #expect(answer("\u{212A}")! == (1, false), "KELVIN SIGN is canonically K")
            #expect(answer("bb") == nil && answer("") == nil && answer("zz") == nil && answer("é") == nil)
            #expect(segment.shadowed.setCount == 2, "the older b and the live c are replaced")
        }
        // Non-ASCII ids: the table, where NFC and NFD spellings are one id.
        let accents = LoadedSegment(id: "n", rows: rows([("caf\u{E9}", 1, false), ("z", 1, false)]), dimension: 2, index: nil)
        #expect(accents.row(of: "cafe\u{301}") == 0 && accents.row(of: "z") == 1 && accents.row(of: "cafe") == nil)
    }
}

/// The newest manifest a listing names can be collected before it is read
/// (a newer one was published meanwhile and garbage collection ran with no
/// grace period): the reader lists again and reads the newer one.
@Suite struct ManifestRaceTests {
    /// Storage whose first read of `victim` finds it collected, `newer` published in its place.
    final class CollectedOnRead: CloudStorage, Sendable {
        let base: MemoryStorage
        let victim: String
        let newer: (key: String, bytes: [UInt8])
        let fired = Mutex(false)
        init(_ base: MemoryStorage, victim: String, newer: (key: String, bytes: [UInt8])) {
            (self.base, self.victim, self.newer) = (base, victim, newer)
        }
        var description: String { base.description }
        func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
            if key == victim, !fired.withLock({ let was = $0; $0 = true; return was }) {
                try await base.put(newer.key, newer.bytes, condition: .createOnly)
                try await base.delete(victim)
            }
            return try await base.get(key, range: range)
        }
        func head(_ key: String) async throws -> ObjectInfo { try await base.head(key) }
        func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String { try await base.put(key, bytes, condition: condition) }
        func delete(_ key: String) async throws { try await base.delete(key) }
        func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
            try await base.list(prefix: prefix, startAfter: startAfter, limit: limit)
        }
    }

    @Test func aCollectedManifestIsListedAgain() async throws {
        let base = MemoryStorage()
        let layout = StorageLayout()
        let first = Manifest(version: 1, walThrough: 3, createdAt: 0, segments: [], job: nil)
        let second = Manifest(version: 2, walThrough: 7, createdAt: 0, segments: [], job: nil)
        _ = try await base.put(layout.manifestKey("c1", version: 1), first.encode(), condition: .createOnly)
        let storage = CollectedOnRead(
            base, victim: layout.manifestKey("c1", version: 1), newer: (layout.manifestKey("c1", version: 2), second.encode()))
        let latest = try await ManifestStore(storage: storage, layout: layout, collectionId: "c1").latest()
        #expect(latest.version == 2 && latest.walThrough == 7)
    }
}
