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
