import ProximaCloud
import ProximaTesting
import Testing
@testable import ProximaCore
@testable import ProximaEngine

/// What a write costs: a warm writer's commit is its put, without a probe of
/// the WAL first, and still never overwrites or ignores another process's write.
@Suite struct WritePathTests {
    func engine(_ storage: MemoryStorage) -> Engine {
        var settings = MaintenanceSettings()
        settings.flushThresholdBytes = 1 << 40
        settings.manifestRecheck = .seconds(30)
        settings.catalogRecheck = .seconds(30)
        return Engine(storage: storage, maintenance: settings, logger: quietLogger)
    }

    func failure(_ body: () async throws -> WriteOutcome) async -> (any Error)? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error
        }
    }

    @Test func aWarmWriteIsOnePutWithoutAProbe() async throws {
        let storage = MemoryStorage()
        let writer = engine(storage)
        _ = try await writer.createCollection(CollectionSpec(name: "c", dimension: 2, distanceMetric: .euclidean), tenant: .default)
        _ = try await writer.write("c", .insert([.init(id: "first", vector: [0, 0])], upsert: false))
        let (heads, puts, lists) = (storage.faults.calls(.head), storage.faults.calls(.put), storage.faults.calls(.list))
        for i in 0..<20 { _ = try await writer.write("c", .insert([.init(id: "v\(i)", vector: [Float(i), 1])], upsert: false)) }
        #expect(storage.faults.calls(.put) - puts == 20)
        #expect(storage.faults.calls(.head) - heads == 0, "no WAL probe before a warm commit")
        #expect(storage.faults.calls(.list) - lists == 0)
        #expect(try await writer.describeCollection("c").1.vectorCount == 21)
    }

    /// Two processes writing one collection by turns: each one's commit lands
    /// on a sequence the other took, fails its create-only put, catches up and
    /// resolves again (an id the other inserted is then `vector_exists`).
    @Test func aSkippedProbeStillMeetsTheOtherWritersObjects() async throws {
        let storage = MemoryStorage()
        let a = engine(storage), b = engine(storage)
        _ = try await a.createCollection(CollectionSpec(name: "c", dimension: 2, distanceMetric: .euclidean), tenant: .default)
        _ = try await a.write("c", .insert([.init(id: "a0", vector: [0, 0])], upsert: false))
        _ = try await b.write("c", .insert([.init(id: "b0", vector: [0, 1])], upsert: false))
        for i in 1...10 {
            _ = try await a.write("c", .insert([.init(id: "a\(i)", vector: [Float(i), 0])], upsert: false))
            _ = try await b.write("c", .insert([.init(id: "b\(i)", vector: [Float(i), 1])], upsert: false))
            let refused = await failure { try await b.write("c", .insert([.init(id: "a\(i)", vector: [9, 9])], upsert: false)) }
            #expect((refused as? ProximaError)?.code == .vectorExists, "b must not overwrite a's a\(i)")
        }
        for e in [a, b] {
            #expect(try await e.describeCollection("c").1.vectorCount == 22)
            #expect(try await e.getVector("c", id: "a7").vector == [7, 0])
        }
        let wal = try await storage.listAll(prefix: "", startAfter: nil).filter { $0.key.contains("/wal/") }
        #expect(wal.count == 22, "one object per acknowledged write, none overwritten")
    }

    /// A writer slower than the GC grace period (0 here), between its
    /// catch-up and its put's answer. Its own object, flushed and collected
    /// before the put answered, is acknowledged once (not written again). A
    /// sequence another writer's object held, flushed and collected before
    /// the put re-created it, is not acknowledged there: the write goes again
    /// on the next sequence.
    @Test func aWriteSlowerThanTheGracePeriodIsAcknowledgedOnlyWhereStored() async throws {
        let storage = MemoryStorage()
        var settings = MaintenanceSettings()
        settings.flushThresholdBytes = 1 << 40
        settings.flushAfterMicros = nil
        settings.gcGraceMicros = 0
        let a = Engine(storage: storage, maintenance: settings, logger: quietLogger)
        let b = Engine(storage: storage, maintenance: settings, logger: quietLogger)
        let config = try await a.createCollection(CollectionSpec(name: "c", dimension: 2, distanceMetric: .euclidean), tenant: .default)
        _ = try await a.write("c", .insert([.init(id: "a0", vector: [0, 0])], upsert: false))
        let layout = StorageLayout()
        let walPrefix = layout.walPrefix(config.id)
        func walKeys() -> [String] { storage.keys.filter { $0.hasPrefix(walPrefix) }.sorted() }
        func flushAndCollect() async throws {
            let job = JobMessage(kind: .flush, tenant: "default", collectionId: config.id, collection: "c", jobId: JobMessage.newJobId(now: Timestamp.nowMicros()))
            try await Worker.execute(job, storage: storage, settings: settings, queue: nil, logger: quietLogger)
        }

        // Its own object (sequence 2), flushed and collected between the put and its answer.
        storage.faults.hold(.put, keyPrefix: walPrefix, count: 1, afterEffect: true)
        async let own = a.write("c", .insert([.init(id: "a1", vector: [1, 0])], upsert: false))
        while !walKeys().contains(layout.walKey(config.id, sequence: 2)) { try await Task.sleep(for: .milliseconds(1)) }
        try await flushAndCollect()
        #expect(walKeys().isEmpty, "the flush covered sequence 2 and GC removed it")
        storage.faults.release(.put)
        _ = try await own
        #expect(walKeys().isEmpty, "acknowledged without writing it again")

        // B's object takes sequence 3 while A's put for it waits; flushed and collected before A's lands.
        let puts = storage.faults.calls(.put)
        storage.faults.hold(.put, keyPrefix: walPrefix, count: 1)
        async let late = a.write("c", .insert([.init(id: "a2", vector: [2, 0])], upsert: false))
        while storage.faults.calls(.put) == puts { try await Task.sleep(for: .milliseconds(1)) }
        _ = try await b.write("c", .insert([.init(id: "b1", vector: [0, 1])], upsert: false))
        try await flushAndCollect()
        storage.faults.release(.put)
        _ = try await late
        #expect(walKeys() == [layout.walKey(config.id, sequence: 4)], "the re-created sequence 3 is removed, the write lands on 4")

        let fresh = Engine(storage: storage, maintenance: settings, logger: quietLogger)
        #expect(try await fresh.describeCollection("c").1.vectorCount == 4)
        for (id, vector) in [("a0", [Float(0), 0]), ("a1", [1, 0]), ("a2", [2, 0]), ("b1", [0, 1])] {
            #expect(try await fresh.getVector("c", id: id).vector == vector)
        }
    }
}

/// The write path's kept buffers (shared by the whole process, so only what
/// holds whatever other tests take meanwhile): a buffer given back leaves the
/// giver empty, one handed out is empty, none past the bound is kept, and
/// vector chunks come empty with their room. (That an encode lands in the
/// storage it is given: `WALCodecTests`.)
@Suite struct WarmBuffersTests {
    @Test func buffersComeEmptyAndBounded() async throws {
        var buffer = WarmBuffers.takeWALBuffer()
        buffer.append(contentsOf: [UInt8](repeating: 1, count: 100_000))
        WarmBuffers.give(walBuffer: &buffer)
        #expect(buffer.isEmpty)
        #expect(WarmBuffers.takeWALBuffer().isEmpty)
        var big = [UInt8](repeating: 0, count: WarmBuffers.maxWALBufferBytes + 1)
        WarmBuffers.give(walBuffer: &big)  // too large to keep
        #expect(WarmBuffers.takeWALBuffer().capacity < WarmBuffers.maxWALBufferBytes)

        for _ in 0..<3 {
            let chunk = WarmBuffers.takeVectorChunk(floats: 1024 * 8)
            #expect(chunk.isEmpty && chunk.capacity >= 1024 * 8)
            try await Task.sleep(for: .milliseconds(50))  // the next one gets ready meanwhile
        }
    }
}
