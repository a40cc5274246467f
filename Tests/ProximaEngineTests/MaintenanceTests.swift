import Foundation
import ProximaTesting
import Synchronization
import Testing
@testable import ProximaCloud
@testable import ProximaCore
@testable import ProximaEngine
@testable import ProximaFormat

/// Flush, compaction and garbage collection never change what a query sees.
@Suite struct MaintenanceTests {
    /// What the collection should hold: id -> record (expiry included).
    struct Model {
        var records: [String: VectorRecord] = [:]

        func visible(at now: Int64) -> [String: VectorRecord] { records.filter { !$0.value.isExpired(at: now) } }
    }

    static func settings(orphanSegmentAgeMicros: Int64 = 0, indexMinRows: Int = 2_000, clock: any WallClock = SystemClock()) -> MaintenanceSettings {
        var s = MaintenanceSettings()
        s.clock = clock
        s.indexMinRows = indexMinRows
        s.flushThresholdBytes = 1 << 40  // only explicit flushes: none by size,
        s.flushAfterMicros = nil  // none by age: a flush started in the background could outlive a slow test
        s.gcGraceMicros = 0
        s.orphanSegmentAgeMicros = orphanSegmentAgeMicros  // 0 only where jobs run one at a time
        s.minFilesForCompaction = 3
        s.targetFileBytes = 64 << 10
        return s
    }

    /// Runs `steps` random operations, checking the engine against the model
    /// after each; returns how many of each kind of maintenance ran. Time is a
    /// `ManualClock` moved 100 ms a step, so expiries fall exactly where the
    /// model puts them.
    func randomizedEquivalence(
        storage: any CloudStorage, steps: Int, seed: UInt64, indexMinRows: Int = 2_000, algorithm: String = "hnsw"
    ) async throws -> [String: Int] {
        let dim = 8
        let clock = ManualClock()
        let settings = Self.settings(indexMinRows: indexMinRows, clock: clock)
        var engine = Engine(storage: storage, maintenance: settings, logger: quietLogger)
        _ = try await engine.createCollection(
            CollectionSpec(
                name: "r", dimension: dim, distanceMetric: .euclidean, indexingAlgorithm: .init(rawValue: algorithm)!,
                filterableFields: [.init(name: "g", type: .integer)]),
            tenant: .default)
        var rng = SeededRandom(seed: seed)
        var model = Model()
        var nextId = 0
        var ran: [String: Int] = [:]
        var indexedChecks = 0
        func vector() -> [Float] { (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        func someIds(_ n: Int) -> [String] {
            let known = Array(model.records.keys)
            return (0..<n).compactMap { _ in known.isEmpty ? nil : known.randomElement(using: &rng) }
        }
        for step in 0..<steps {
            clock.advance(micros: 100_000)
            let now = clock.nowMicros()
            let op = Int.random(in: 0..<100, using: &rng)
            switch op {
            case 0..<30:  // insert new ids, some expiring (already, soon, later)
                var batch: [WriteIntent.NewRecord] = []
                for _ in 0..<Int.random(in: 1...20, using: &rng) {
                    nextId += 1
                    let expiry: Int64? =
                        switch Int.random(in: 0..<10, using: &rng) {
                        case 0: now - 1_000_000
                        case 1: now + 300_000
                        case 2: now + 3_600_000_000
                        default: nil
                        }
                    batch.append(.init(id: "id\(nextId)", vector: vector(), metadata: ["g": .int(Int64(nextId % 7)), "s": .string("x\(nextId)")], expiresAt: expiry))
                }
                _ = try await engine.write("r", .insert(batch, upsert: false))
                for b in batch { model.records[b.id!] = VectorRecord(id: b.id!, vector: b.vector, metadata: b.metadata, expiresAt: b.expiresAt) }
            case 30..<45:  // upsert existing and new ids
                var batch: [WriteIntent.NewRecord] = []
                for id in Set(someIds(5) + ["id\(nextId + 1)"]) {
                    batch.append(.init(id: id, vector: vector(), metadata: ["g": .int(Int64(step % 7))]))
                }
                nextId += 1
                _ = try await engine.write("r", .insert(batch, upsert: true))
                for b in batch { model.records[b.id!] = VectorRecord(id: b.id!, vector: b.vector, metadata: b.metadata) }
            case 45..<55:  // delete by id
                let ids = someIds(4)
                _ = try await engine.write("r", .delete(ids: ids, requireExisting: false))
                for id in ids { model.records[id] = nil }
            case 55..<60:  // delete by filter
                let g = Int64.random(in: 0..<7, using: &rng)
                _ = try await engine.write("r", .deleteMatching(try Filter.parse(["g": .int(g)])))
                for (id, r) in model.records where r.metadata["g"] == .int(g) && !r.isExpired(at: now) { model.records[id] = nil }
            case 60..<68:  // partial update of metadata
                guard let id = someIds(1).first, let r = model.records[id], !r.isExpired(at: now) else { continue }
                _ = try await engine.write("r", .update(id: id, vector: nil, metadata: ["g": .int(99)], expiresAt: .keep))
                model.records[id]?.metadata = ["g": .int(99)]
            case 68..<80:
                let (_, report) = try await engine.requestJob("r", kind: .flush, wait: true)
                ran["flush-" + (report?.status.rawValue ?? "timeout"), default: 0] += 1
            case 80..<86:
                let (_, report) = try await engine.requestJob("r", kind: .compact, wait: true)
                ran["compact-" + (report?.status.rawValue ?? "timeout"), default: 0] += 1
            case 86..<90:
                let (_, report) = try await engine.requestJob("r", kind: .compactAll, wait: true)
                ran["compact-all-" + (report?.status.rawValue ?? "timeout"), default: 0] += 1
            case 90..<94:
                let (_, report) = try await engine.requestJob("r", kind: .gc, wait: true)
                ran["gc-" + (report?.status.rawValue ?? "timeout"), default: 0] += 1
            default:  // a new process: cold start from the manifest and the WAL after it
                engine = Engine(storage: storage, maintenance: settings, logger: quietLogger)
                ran["reopen", default: 0] += 1
            }
            try await check(engine, model, now: now, dim: dim, rng: &rng, step: step, indexedChecks: &indexedChecks)
        }
        ran["checks-through-indexes"] = indexedChecks
        return ran
    }

    func check(
        _ engine: Engine, _ model: Model, now: Int64, dim: Int, rng: inout SeededRandom, step: Int, indexedChecks: inout Int
    ) async throws {
        let expected = model.visible(at: now)
        let collection = try await engine.open("r")
        let stats = try await collection.stats()
        if stats.indexedSegments > 0 { indexedChecks += 1 }
        #expect(stats.vectorCount == expected.count, "step \(step): count \(stats.vectorCount), expected \(expected.count)")
        for (id, r) in expected.prefix(5) {
            let got = try await collection.get(id)
            #expect(got.vector == r.vector && got.metadata == r.metadata, "step \(step): record \(id) differs")
        }
        for id in model.records.keys.shuffled(using: &rng).prefix(3) where expected[id] == nil {
            await #expect(throws: ProximaError.self, "step \(step): \(id) should be gone") { try await collection.get(id) }
        }
        let query = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }
        let k = 10
        let exactHits = try await collection.search(queries: [query], k: k, filter: nil, threshold: nil, exact: true)[0]
        let hits = exactHits.map(\.record.id)
        // Through the indexes: every hit is a visible record at its current distance, once
        // (a superseded or deleted index node must never surface).
        let approximate = try await collection.search(queries: [query], k: k, filter: nil, threshold: nil)[0]
        #expect(Set(approximate.map(\.record.id)).count == approximate.count, "step \(step): duplicate hits")
        for hit in approximate {
            guard let r = expected[hit.record.id] else {
                Issue.record("step \(step): \(hit.record.id) returned but not visible")
                continue
            }
            let d = zip(r.vector, query).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            #expect(abs(hit.distance - d) < 1e-3 && hit.record.vector == r.vector, "step \(step): \(hit.record.id) at a stale distance")
        }
        func distance(_ v: [Float]) -> Float {
            var sum: Float = 0
            for i in 0..<dim { sum += (v[i] - query[i]) * (v[i] - query[i]) }
            return sum
        }
        let scored: [(String, Float)] = expected.map { ($0.key, distance($0.value.vector)) }
        let truth = scored.sorted { $0.1 < $1.1 }.prefix(k).map(\.0)
        // Ranks are compared by distance, not by id: two records whose distances
        // differ in the last bit may come in either order (the engine sums in SIMD
        // lanes, this loop in sequence). A stale or missing record still fails.
        let truthDistances = truth.map { distance(expected[$0]!.vector) }
        var sameRanks = hits.count == truth.count && Set(hits).count == hits.count
        for (rank, hit) in exactHits.enumerated() where rank < truthDistances.count {
            guard let r = expected[hit.record.id] else { sameRanks = false; continue }
            let d = distance(r.vector)
            let current = abs(hit.distance - d.squareRoot()) < 1e-4 && hit.record.vector == r.vector
            if !current || abs(d - truthDistances[rank]) > 1e-5 * max(1, d) { sameRanks = false }
        }
        #expect(sameRanks, "step \(step): search results differ: \(exactHits.map { "\($0.record.id)@\($0.distance)" }) vs \(zip(truth, truthDistances).map { "\($0.0)@\($0.1.squareRoot())" })")
    }

    @Test func randomizedEquivalenceOnLocalDirectory() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let ran = try await randomizedEquivalence(storage: try LocalDirectoryStorage(root: dir), steps: 2000, seed: 7)
        print("maintenance ran: \(ran.sorted { $0.key < $1.key })")
        #expect((ran["flush-done"] ?? 0) > 50 && (ran["compact-done"] ?? 0) > 5 && (ran["compact-all-done"] ?? 0) > 5)
    }

    /// With an index on every segment (HNSW, then IVF-SQ8), so updates and
    /// deletes of indexed rows go through the delete bitmap.
    @Test(arguments: ["hnsw", "ivf"])
    func randomizedEquivalenceWithIndexes(_ algorithm: String) async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let ran = try await randomizedEquivalence(
            storage: try LocalDirectoryStorage(root: dir), steps: 600, seed: 13, indexMinRows: 20, algorithm: algorithm)
        #expect((ran["flush-done"] ?? 0) > 20 && (ran["checks-through-indexes"] ?? 0) > 300, "\(ran)")
    }

    /// The same on S3 (moto, signatures verified): fewer steps, each makes real requests.
    @Test func randomizedEquivalenceOnMoto() async throws {
        let moto = try Emulators.moto.get()
        let storage = try S3Storage(
            .init(bucket: moto["bucket"], prefix: "maint-\(UUID().uuidString)", endpoint: moto["endpoint"]),
            credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: moto["access_key_id"], secretAccessKey: moto["secret_access_key"])))
        let ran = try await randomizedEquivalence(storage: storage, steps: 300, seed: 11)
        #expect((ran["flush-done"] ?? 0) > 10 && (ran["compact-done"] ?? 0) + (ran["compact-all-done"] ?? 0) > 3)
    }

    func seeded(_ storage: any CloudStorage, count: Int = 300) async throws -> Engine {
        // Jobs on the system clock: a segment is an orphan only after an hour, as by default.
        let engine = Engine(storage: storage, maintenance: Self.settings(orphanSegmentAgeMicros: 3_600_000_000), logger: quietLogger)
        _ = try await engine.createCollection(
            CollectionSpec(name: "c", dimension: 16, filterableFields: [.init(name: "g", type: .string)]), tenant: .default)
        var rng = SeededRandom(seed: 3)
        let batch = (0..<count).map { i in
            WriteIntent.NewRecord(id: "v\(i)", vector: (0..<16).map { _ in Float.random(in: -1...1, using: &rng) }, metadata: ["g": .string("g\(i % 5)")])
        }
        _ = try await engine.write("c", .insert(batch, upsert: false))
        return engine
    }

    /// A flipped byte anywhere in a segment or manifest is reported as
    /// `storage_corrupted`, never returned as data.
    @Test func corruptionIsDetected() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let storage = try LocalDirectoryStorage(root: dir)
        let engine = try await seeded(storage)
        let (_, report) = try await engine.requestJob("c", kind: .flush, wait: true)
        #expect(report?.status == .done)
        let config = try await engine.catalog(.default).get("c").config
        let layout = StorageLayout()
        let objects = try await storage.listAll(prefix: layout.collectionPrefix(config.id)).map(\.key)
            .filter { $0.contains("/segments/") || $0.contains("/manifest/") }
        #expect(objects.count == 2)
        // The manifest's copy beside the catalog entry (checksummed too) would serve instead of a damaged
        // manifest; without it the manifest itself is read.
        try await storage.delete(layout.manifestHintKey("c"))
        for key in objects {
            let original = try await storage.get(key).bytes
            for position in [0, 3, original.count / 3, original.count / 2, original.count - 20, original.count - 1] {
                var damaged = original
                damaged[position] ^= 0x04
                try await storage.put(key, damaged)
                do throws(ProximaError) {
                    let n = try await Engine(storage: storage).open("c").stats().vectorCount
                    Issue.record("\(key) damaged at \(position) was read (\(n) vectors)")
                } catch {
                    #expect(error.code == .storageCorrupted, "\(key) at \(position): \(error)")
                }
            }
            try await storage.put(key, original)
        }
        #expect(try await Engine(storage: storage).open("c").stats().vectorCount == 300)
    }

    /// A job that runs past its message's first deadline is kept hidden by
    /// renewals and deleted when it ends, on the directory queue (which
    /// renames an in-flight message at each renewal): not run again.
    /// Deadlines on a manual clock; renewals every 10 ms of real time.
    @Test func aJobOutlivingItsFirstDeadlineIsDeletedWhenDone() async throws {
        let clock = ManualClock()
        let queue = try LocalDirectoryQueue(path: temporaryDirectory() + "/jobs", clock: clock)
        try await queue.send("job")
        let message = try #require(try await queue.receive(max: 1, visibilityTimeoutSeconds: 60, waitSeconds: 0).first)
        let lease = JobLease(queue: queue, receipt: message.receipt, visibilitySeconds: 60, every: .milliseconds(10))
        clock.advance(seconds: 30)
        // A renewal moves the deadline, and with it the receipt (however slowly a loaded machine runs it).
        let started = ContinuousClock.now
        while lease.current == message.receipt, ContinuousClock.now - started < .seconds(120) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(lease.current != message.receipt, "renewed")
        clock.advance(seconds: 45)  // past the first deadline, within the renewed one
        #expect(try await queue.receive(max: 1, visibilityTimeoutSeconds: 60, waitSeconds: 0).isEmpty, "renewed, so still hidden")
        try await queue.delete(receipt: await lease.finish())
        clock.advance(seconds: 3600)
        #expect(try await queue.receive(max: 1, visibilityTimeoutSeconds: 60, waitSeconds: 0).isEmpty, "deleted, not redelivered")
    }

    /// Poison messages and jobs that keep failing end in the dead-letter queue:
    /// on an in-memory queue and a manual clock, each redelivery is one step.
    @Test func failingJobsAreDeadLettered() async throws {
        let clock = ManualClock()
        let storage = MemoryStorage()
        let queue = MemoryQueue(name: "q", clock: clock)
        let dead = MemoryQueue(name: "q-dead", clock: clock)
        var worker = Worker(storage: storage, queue: queue, deadLetter: dead, settings: Self.settings(clock: clock), logger: quietLogger)
        worker.maxAttempts = 2
        worker.visibilityTimeoutSeconds = 60
        try await queue.send("not a job")
        #expect(try await worker.runOnce(waitSeconds: 0) == 1)
        let poison = try await dead.receive(max: 10, visibilityTimeoutSeconds: 30, waitSeconds: 0)
        #expect(poison.map(\.body) == ["not a job"])
        for m in poison { try await dead.delete(receipt: m.receipt) }
        #expect(queue.depth == 0 && dead.depth == 0)
        // A flush whose WAL is unreadable fails every time.
        let engine = try await seeded(storage, count: 10)
        let config = try await engine.catalog(.default).get("c").config
        try await storage.put(StorageLayout().walKey(config.id, sequence: 1), [1, 2, 3])
        let job = JobMessage(kind: .flush, tenant: "default", collectionId: config.id, collection: "c", jobId: JobMessage.newJobId(now: clock.nowMicros()))
        try await queue.send(job.json)
        #expect(try await worker.runOnce(waitSeconds: 0) == 1)  // attempt 1 fails; hidden for 60 s
        #expect(try await worker.runOnce(waitSeconds: 0) == 0)
        clock.advance(seconds: 59)
        #expect(try await worker.runOnce(waitSeconds: 0) == 0, "still hidden 1 s before its visibility ends")
        clock.advance(seconds: 1)
        #expect(try await worker.runOnce(waitSeconds: 0) == 1)  // attempt 2 fails
        #expect(try await dead.receive(max: 10, visibilityTimeoutSeconds: 30, waitSeconds: 0).isEmpty)
        clock.advance(seconds: 60)
        #expect(try await worker.runOnce(waitSeconds: 0) == 1)  // received a third time: dead-lettered
        #expect(try await dead.receive(max: 10, visibilityTimeoutSeconds: 30, waitSeconds: 0).map(\.body) == [job.json])
        #expect(queue.depth == 0)
    }

    /// Writers, two flushers and two compactors at once, every job delivered
    /// twice: the manifest history is one chain and nothing acknowledged is lost.
    @Test func concurrentWritersAndWorkers() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let storage = try LocalDirectoryStorage(root: dir)
        let setup = Engine(storage: storage, maintenance: Self.settings(), logger: quietLogger)
        _ = try await setup.createCollection(CollectionSpec(name: "c", dimension: 4), tenant: .default)
        let config = try await setup.catalog(.default).get("c").config
        // Jobs run concurrently with writers, and garbage collection deletes covered WAL at once
        // (grace 0): a write whose sequence GC freed behind a flush must notice, not be acknowledged.
        let settings = Self.settings(orphanSegmentAgeMicros: 600_000_000)
        // Jobs go on until every writer is done, so they interleave with writes however the run is scheduled.
        let writersDone = WritersDone()
        let acked = try await withThrowingTaskGroup(of: [String].self) { group in
            for w in 0..<3 {
                group.addTask {
                    let engine = Engine(storage: storage, maintenance: settings, logger: quietLogger)
                    var ids: [String] = []
                    for b in 0..<40 {
                        let batch = (0..<10).map { i in WriteIntent.NewRecord(id: "w\(w)-\(b)-\(i)", vector: [Float(w), Float(b), Float(i), 1]) }
                        _ = try await engine.write("c", .insert(batch, upsert: false))
                        ids += batch.map { $0.id! }
                        if b % 7 == 3 {
                            _ = try await engine.write("c", .delete(ids: [ids.removeFirst()], requireExisting: true))
                        }
                        if b % 10 == 9 {  // a flush among the writes, however the job loops get scheduled
                            let job = JobMessage(kind: .flush, tenant: "default", collectionId: config.id, collection: "c", jobId: JobMessage.newJobId(now: Timestamp.nowMicros()))
                            try await Worker.execute(job, storage: storage, settings: settings, queue: nil, logger: quietLogger)
                        }
                    }
                    writersDone.count.add(1, ordering: .relaxed)
                    return ids
                }
            }
            for kind: JobKind in [.flush, .flush, .compact, .compactAll] {
                group.addTask {
                    var round = 0
                    while round < 25 || writersDone.count.load(ordering: .relaxed) < 3 {
                        round += 1
                        try await Task.sleep(for: .milliseconds(2))
                        let job = JobMessage(kind: kind, tenant: "default", collectionId: config.id, collection: "c", jobId: JobMessage.newJobId(now: Timestamp.nowMicros()))
                        for _ in 0..<2 {  // at-least-once: every message twice
                            try await Worker.execute(job, storage: storage, settings: settings, queue: nil, logger: quietLogger)
                        }
                    }
                    return []
                }
            }
            var all: [String] = []
            for try await ids in group { all += ids }
            return all
        }
        let engine = Engine(storage: storage)
        let collection = try await engine.open("c")
        #expect(try await collection.stats().vectorCount == acked.count)
        // One chain: versions 1...n with non-decreasing WAL coverage (old ones may be collected).
        let keys = try await storage.listAll(prefix: StorageLayout().manifestPrefix(config.id)).map(\.key)
        let store = ManifestStore(storage: storage, layout: StorageLayout(), collectionId: config.id)
        var last: Manifest?
        for key in keys {
            let m = try await store.read(key)
            if let last { #expect(m.version == last.version + 1 && m.walThrough >= last.walThrough) }
            last = m
        }
        // Jobs really ran among the writes: each writer flushed four times itself.
        #expect((last?.version ?? 0) >= 4)
    }
}

private final class WritersDone: Sendable {
    let count = Atomic<Int>(0)
}
