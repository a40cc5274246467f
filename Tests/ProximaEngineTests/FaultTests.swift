import Foundation
import Synchronization
import ProximaTesting
import Testing
@testable import ProximaCloud
@testable import ProximaCore
@testable import ProximaEngine

/// The engine over a store that fails on cue and a clock that moves by hand.
@Suite struct FaultTests {
    /// The error code `body` fails with; nil if it succeeds.
    func code(_ body: () async throws -> Void) async -> ProximaError.Code? {
        do {
            try await body()
            return nil
        } catch {
            return (error as? ProximaError)?.code ?? .internalError
        }
    }

    func engine(_ storage: MemoryStorage, clock: ManualClock) -> Engine {
        var settings = MaintenanceSettings()
        settings.clock = clock
        settings.flushThresholdBytes = 1 << 40
        return Engine(storage: storage, maintenance: settings, logger: quietLogger)
    }

    /// A WAL write that fails is not acknowledged and changes nothing; one whose
    /// answer is lost after it landed is not acknowledged either, yet the next
    /// write must claim the following sequence and both must read back.
    @Test func failedWALWritesAreNotAcknowledgedAndDoNotWedgeTheLog() async throws {
        let storage = MemoryStorage()
        let clock = ManualClock()
        let engine = engine(storage, clock: clock)
        let config = try await engine.createCollection(CollectionSpec(name: "c", dimension: 2), tenant: .default)
        let wal = StorageLayout().walPrefix(config.id)
        storage.faults.fail(.put, keyPrefix: wal)
        await #expect(throws: ProximaError.self) { _ = try await engine.write("c", .insert([.init(id: "lost", vector: [1, 0])], upsert: false)) }
        await #expect(throws: ProximaError.self) { _ = try await engine.getVector("c", id: "lost") }
        #expect(storage.keys.filter { $0.hasPrefix(wal) }.isEmpty)

        storage.faults.fail(.put, keyPrefix: wal, afterEffect: true)
        #expect(await code { _ = try await engine.write("c", .insert([.init(id: "landed", vector: [0, 1])], upsert: false)) } == .storageUnavailable)
        _ = try await engine.write("c", .insert([.init(id: "next", vector: [1, 1])], upsert: false))
        #expect(try await engine.getVector("c", id: "next").vector == [1, 1])
        // The write that landed is in the log (unacknowledged writes may appear; acknowledged ones must).
        #expect(try await engine.getVector("c", id: "landed").vector == [0, 1])
        // A new process sees the same.
        let fresh = self.engine(storage, clock: clock)
        #expect(try await fresh.open("c").stats().vectorCount == 2)
    }

    /// Expiry is exact: a record is visible until the microsecond its TTL ends.
    @Test func ttlEndsOnTheMicrosecond() async throws {
        let storage = MemoryStorage()
        let clock = ManualClock()
        let engine = engine(storage, clock: clock)
        _ = try await engine.createCollection(
            CollectionSpec(name: "c", dimension: 2, settings: ["default_ttl_seconds": 10]), tenant: .default)
        let written = clock.nowMicros()
        _ = try await engine.write("c", .insert([.init(id: "ttl", vector: [1, 0])], upsert: false))
        _ = try await engine.write("c", .insert([.init(id: "own", vector: [0, 1], expiresAt: written + 5_000_000)], upsert: false))
        #expect(try await engine.getVector("c", id: "ttl").expiresAt == written + 10_000_000)
        clock.advance(micros: 5_000_000 - 1)
        #expect(try await engine.open("c").stats().vectorCount == 2)
        clock.advance(micros: 1)
        await #expect(throws: ProximaError.self) { _ = try await engine.getVector("c", id: "own") }
        #expect(try await engine.open("c").stats().vectorCount == 1)
        clock.advance(micros: 5_000_000 - 1)
        #expect(try await engine.getVector("c", id: "ttl").id == "ttl")
        clock.advance(micros: 1)
        await #expect(throws: ProximaError.self) { _ = try await engine.getVector("c", id: "ttl") }
        // A flush after expiry writes the expired records as tombstones: still gone from a new process.
        _ = try await engine.requestJob("c", kind: .flush, wait: true)
        #expect(try await self.engine(storage, clock: clock).open("c").stats().vectorCount == 0)
    }

    /// A store that keeps failing reads answers `storage_unavailable`, never wrong data.
    @Test func failingReadsAreUnavailableNotWrong() async throws {
        let storage = MemoryStorage()
        let clock = ManualClock()
        _ = try await engine(storage, clock: clock).createCollection(CollectionSpec(name: "c", dimension: 2), tenant: .default)
        _ = try await engine(storage, clock: clock).write("c", .insert([.init(id: "a", vector: [1, 0])], upsert: false))
        storage.faults.fail(.list, count: 100)
        let fresh = engine(storage, clock: clock)
        #expect(await code { _ = try await fresh.getVector("c", id: "a") } == .storageUnavailable)
    }

    /// Writes that arrive while a WAL put is in flight share the next one
    /// (group commit): 64 concurrent writers need far fewer than 64 objects,
    /// and every acknowledged record reads back. The first put is held until
    /// every write has reached the collection: on a loaded machine the
    /// writers' arrivals once spread over 38 puts, even 200 ms after every
    /// writer's task had started.
    @Test func concurrentWritesShareWALObjects() async throws {
        let storage = MemoryStorage()
        let clock = ManualClock()
        let engine = engine(storage, clock: clock)
        let config = try await engine.createCollection(CollectionSpec(name: "c", dimension: 2), tenant: .default)
        _ = try await engine.open("c").stats()
        storage.faults.latency(.put, .milliseconds(50))
        storage.faults.hold(.put)
        let collection = try await engine.handle("c")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    _ = try await engine.write("c", .insert([.init(id: "w\(i)", vector: [Float(i), 1])], upsert: false))
                }
            }
            while await collection.unansweredWrites < 64 || storage.faults.calls(.put) == 0 { try await Task.sleep(for: .milliseconds(5)) }
            storage.faults.release(.put)
            try await group.waitForAll()
        }
        let walObjects = storage.keys.filter { $0.hasPrefix(StorageLayout().walPrefix(config.id)) }.count
        #expect(walObjects >= 1 && walObjects <= 16, "\(walObjects) WAL objects for 64 concurrent writes")
        let fresh = self.engine(storage, clock: clock)
        #expect(try await fresh.open("c").stats().vectorCount == 64)
        for i in stride(from: 0, to: 64, by: 7) { #expect(try await fresh.getVector("c", id: "w\(i)").vector == [Float(i), 1]) }
    }

    /// Collection "c" (2 dimensions) on `storage`, with its jobs and manifests
    /// reached directly, for tests that hold a job part-way.
    func jobsOnOneCollection(_ storage: MemoryStorage, clock: ManualClock) async throws
        -> (Engine, CollectionConfig, Maintenance, ManifestStore)
    {
        let engine = engine(storage, clock: clock)
        let config = try await engine.createCollection(CollectionSpec(name: "c", dimension: 2), tenant: .default)
        var settings = MaintenanceSettings()
        settings.clock = clock
        let maintenance = Maintenance(storage: storage, layout: StorageLayout(), config: config, settings: settings, logger: quietLogger)
        return (engine, config, maintenance, ManifestStore(storage: storage, layout: StorageLayout(), collectionId: config.id))
    }

    /// A flush overtaken part-way (another flush, which read less of the WAL,
    /// published first) flushes the rest before it answers: a write
    /// acknowledged before the flush was asked for is in a segment when it
    /// returns. (The flush a backlog queues and one a user asks for race so.)
    @Test func aFlushOvertakenPartWayFlushesTheRest() async throws {
        let storage = MemoryStorage()
        let clock = ManualClock()
        let (engine, config, maintenance, manifests) = try await jobsOnOneCollection(storage, clock: clock)
        _ = try await engine.write("c", .insert([.init(id: "a", vector: [1, 0])], upsert: false))
        // The first flush reads the WAL through "a" and is held before it publishes.
        storage.faults.hold(.put, keyPrefix: StorageLayout().manifestPrefix(config.id), count: 1)
        async let first = maintenance.flush(jobId: "first")
        while storage.faults.held(.put) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        // The second finds no manifest and is held reading the WAL, through "b".
        _ = try await engine.write("c", .insert([.init(id: "b", vector: [0, 1])], upsert: false))
        storage.faults.hold(.get, keyPrefix: StorageLayout().walPrefix(config.id))
        async let second = maintenance.flush(jobId: "second")
        while storage.faults.held(.get) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        // The first publishes (through "a"), then the second goes on and finds itself overtaken.
        storage.faults.release(.put)
        while try await manifests.latest().version == 0 { try await Task.sleep(for: .milliseconds(5)) }
        storage.faults.release(.get)
        #expect(try await first.status == .done)
        let report = try await second
        #expect(report.status == .done, "\(report)")
        let latest = try await manifests.latest()
        #expect(latest.walThrough == 2 && latest.segments.map(\.rows) == [1, 1], "\(latest)")
        #expect(try await self.engine(storage, clock: clock).open("c").stats().unflushedWALBytes == 0)
    }

    /// A job held so long that garbage collection took its new segment for an
    /// orphan (no manifest names it, and it is older than the orphan age) does
    /// not publish it: it fails, and the next flush indexes the same writes.
    @Test func aJobPastTheOrphanAgePublishesNothing() async throws {
        let storage = MemoryStorage()
        let clock = ManualClock()
        let (engine, config, maintenance, manifests) = try await jobsOnOneCollection(storage, clock: clock)
        _ = try await engine.write("c", .insert([.init(id: "a", vector: [1, 0])], upsert: false))
        #expect(try await maintenance.flush(jobId: "first").status == .done)
        _ = try await engine.write("c", .insert([.init(id: "b", vector: [0, 1])], upsert: false))
        // The second flush stores its segment and is held there while time passes the orphan age
        // and garbage collection runs.
        storage.faults.hold(.put, keyPrefix: StorageLayout().segmentsPrefix(config.id), count: 1, afterEffect: true)
        async let slow = maintenance.flush(jobId: "slow")
        while storage.faults.held(.put) == 0 { try await Task.sleep(for: .milliseconds(5)) }
        clock.advance(micros: maintenance.settings.orphanSegmentAgeMicros + 1_000_000)
        #expect(try await maintenance.collectGarbage(now: clock.nowMicros()).segments == 1)
        storage.faults.release(.put)
        do {
            let report = try await slow
            Issue.record("published a segment garbage collection had removed: \(report)")
        } catch {
            #expect((error as? ProximaError)?.code == .deadlineExceeded, "\(error)")
        }
        #expect(try await manifests.latest().version == 1)
        #expect(try await maintenance.flush(jobId: "again").status == .done)
        let fresh = self.engine(storage, clock: clock)
        #expect(try await fresh.open("c").stats().vectorCount == 2)
        #expect(try await fresh.getVector("c", id: "b").vector == [0, 1])
    }

    /// A process that starts cold behind a cache another process filled reads
    /// no segment, manifest or WAL object from the store (counted).
    @Test func coldEnginesReadImmutableObjectsFromASharedCache() async throws {
        let storage = MemoryStorage()
        let clock = ManualClock()
        let writer = engine(storage, clock: clock)
        _ = try await writer.createCollection(CollectionSpec(name: "c", dimension: 2), tenant: .default)
        for i in 0..<5 { _ = try await writer.write("c", .insert([.init(id: "v\(i)", vector: [Float(i), 1])], upsert: false)) }
        _ = try await writer.requestJob("c", kind: .flush, wait: true)
        _ = try await writer.write("c", .insert([.init(id: "tail", vector: [9, 9])], upsert: false))
        // The cold engines' own gets (the writer may still load its flush's segment meanwhile).
        let gets = GetLog(storage)
        let shared = MemoryCache(capacityBytes: 64 << 20)
        let cached = CachingStorage(store: gets, tiers: [shared], isImmutable: StorageLayout.isImmutable)
        func coldEngine() -> Engine {
            var settings = MaintenanceSettings()
            settings.clock = clock
            return Engine(storage: cached, maintenance: settings, logger: quietLogger)
        }
        #expect(try await coldEngine().open("c").stats().vectorCount == 6)
        await cached.settle()
        let afterFirst = gets.keys.count
        #expect(gets.keys.contains(where: StorageLayout.isImmutable))
        #expect(try await coldEngine().open("c").stats().vectorCount == 6)
        // The second cold start still reads the catalog entry and the manifest copy beside it (both may
        // change); nothing immutable.
        let second = Array(gets.keys[afterFirst...])
        #expect(!second.contains(where: StorageLayout.isImmutable) && second.count <= 2, "the second cold start read \(second)")
        #expect(shared.stats.hits > 0)
    }
}

/// A store that records the key of every get it passes on.
private final class GetLog: CloudStorage, Sendable {
    let store: any CloudStorage
    private let log = Mutex<[String]>([])
    init(_ store: any CloudStorage) { self.store = store }

    var keys: [String] { log.withLock { $0 } }
    var description: String { store.description }

    func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        log.withLock { $0.append(key) }
        return try await store.get(key, range: range)
    }
    func head(_ key: String) async throws -> ObjectInfo { try await store.head(key) }
    func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String { try await store.put(key, bytes, condition: condition) }
    func delete(_ key: String) async throws { try await store.delete(key) }
    func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await store.list(prefix: prefix, startAfter: startAfter, limit: limit)
    }
}
