import Foundation
import ProximaTesting
import Testing
@testable import ProximaCloud
@testable import ProximaCore
@testable import ProximaEngine

/// The engine's behaviour, on every backend: a local directory, S3 on moto
/// (signatures verified) and on LocalStack (started by `localstack/start`),
/// and GCS on fake-gcs-server.
@Suite struct EngineTests {
    /// `s3Faulty` is moto behind a proxy injecting 5xx bursts, throttling,
    /// lost answers, cut-off bodies and delays.
    enum Backend: String, CaseIterable, Sendable { case local, s3, s3Faulty, localstack, gcs }


    /// A fresh store: a temporary directory, or a unique prefix in the moto bucket.
    func makeStorage(_ backend: Backend) throws -> (storage: any CloudStorage, place: String) {
        switch backend {
        case .local:
            let dir = temporaryDirectory()
            return (try LocalDirectoryStorage(root: dir), dir)
        case .s3, .s3Faulty, .localstack:
            let moto = try (backend == .localstack ? Emulators.localstack : Emulators.moto).get()
            let endpoint = backend == .s3Faulty ? try Emulators.faultyMoto.get()["endpoint"] : moto["endpoint"]
            let place = "run-\(UUID().uuidString)"
            let storage = try S3Storage(
                .init(bucket: moto["bucket"], prefix: place, endpoint: endpoint),
                credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: moto["access_key_id"], secretAccessKey: moto["secret_access_key"])))
            return (storage, place)
        case .gcs:
            let gcs = try Emulators.fakeGCS.get()
            let place = "run-\(UUID().uuidString)"
            return (GCSStorage(.init(bucket: gcs["bucket"], prefix: place, endpoint: gcs["endpoint"]), tokens: nil), place)
        }
    }

    func cleanup(_ backend: Backend, _ place: String) {
        if backend == .local { removeDirectory(place) }
    }

    func makeEngine(_ storage: any CloudStorage) -> Engine { Engine(storage: storage) }

    func create(_ engine: Engine, _ name: String, dim: Int, metric: DistanceMetric, settings: [String: JSONValue] = [:]) async throws {
        _ = try await engine.createCollection(
            CollectionSpec(name: name, dimension: dim, distanceMetric: metric, settings: settings), tenant: .default)
    }

    func randomVector(_ dim: Int, _ metric: DistanceMetric, _ rng: inout SeededRandom) -> [Float] {
        if metric.requiresBinaryVectors { return (0..<dim).map { _ in Float(Int.random(in: 0...1, using: &rng)) } }
        var v = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }
        v[0] = 0.5 + abs(v[0])  // never the zero vector
        return v
    }

    @Test(arguments: DistanceMetric.allCases, Backend.allCases)
    func exactSearchMatchesBruteForce(_ metric: DistanceMetric, _ backend: Backend) async throws {
        let (storage, place) = try makeStorage(backend)
        defer { cleanup(backend, place) }
        let engine = makeEngine(storage)
        let dim = 24
        try await create(engine, "c", dim: dim, metric: metric)
        var rng = SeededRandom(seed: 42)
        var records: [String: ([Float], Int)] = [:]
        for batch in 0..<4 {
            var items: [WriteIntent.NewRecord] = []
            for i in 0..<250 {
                let id = "v\(batch * 250 + i)"
                let v = randomVector(dim, metric, &rng)
                let bucket = Int.random(in: 0..<10, using: &rng)
                records[id] = (v, bucket)
                items.append(.init(id: id, vector: v, metadata: ["bucket": .int(Int64(bucket))]))
            }
            _ = try await engine.write("c", .insert(items, upsert: false))
        }
        let filter = try Filter.parse(["bucket": ["$lt": 3]])
        for _ in 0..<10 {
            let q = randomVector(dim, metric, &rng)
            for useFilter in [false, true] {
                let hits = try await engine.search("c", queries: [q], k: 10, filter: useFilter ? filter : nil, threshold: nil)[0]
                let expected = records.filter { !useFilter || $0.value.1 < 3 }
                    .map { ($0.key, metric.distance(q, $0.value.0)) }
                    .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
                #expect(hits.count == 10)
                // Compare distances (ties may order differently), and ids where distances are distinct.
                for (hit, want) in zip(hits, expected.prefix(10)) {
                    #expect(abs(hit.distance - want.1) <= 1e-4, "\(metric): \(hit.distance) vs \(want.1)")
                }
                let tenth = expected[9].1
                let strictlyInside = Set(expected.filter { $0.1 < tenth - 1e-4 }.map(\.0))
                #expect(strictlyInside.isSubset(of: Set(hits.map(\.record.id))))
                #expect(hits.allSatisfy { !useFilter || records[$0.record.id]!.1 < 3 })
            }
        }
    }

    @Test(arguments: Backend.allCases)
    func latestVersionWinsDeletesAndTTL(_ backend: Backend) async throws {
        let (storage, place) = try makeStorage(backend)
        defer { cleanup(backend, place) }
        let engine = makeEngine(storage)
        try await create(engine, "c", dim: 2, metric: .euclidean)
        _ = try await engine.write("c", .insert([.init(id: "a", vector: [0, 0], metadata: ["v": 1])], upsert: false))
        await #expect(throws: ProximaError.self) {
            _ = try await engine.write("c", .insert([.init(id: "a", vector: [9, 9])], upsert: false))
        }
        _ = try await engine.write("c", .insert([.init(id: "a", vector: [1, 1], metadata: ["v": 2])], upsert: true))
        var a = try await engine.getVector("c", id: "a")
        #expect(a.vector == [1, 1] && a.metadata["v"] == 2 && a.version == 2)
        _ = try await engine.write("c", .update(id: "a", vector: nil, metadata: ["v": 3], expiresAt: .keep))
        a = try await engine.getVector("c", id: "a")
        #expect(a.vector == [1, 1] && a.metadata["v"] == 3)
        // TTL: already expired records are never returned.
        let past = Timestamp.nowMicros() - 1_000_000
        _ = try await engine.write("c", .insert([.init(id: "old", vector: [0, 0], expiresAt: past)], upsert: false))
        let hits = try await engine.search("c", queries: [[0, 0]], k: 10, filter: nil, threshold: nil)[0]
        #expect(hits.map(\.record.id) == ["a"])
        await #expect(throws: ProximaError.self) { _ = try await engine.getVector("c", id: "old") }
        // An expired id can be inserted again.
        _ = try await engine.write("c", .insert([.init(id: "old", vector: [0, 0])], upsert: false))
        // Delete by filter and by id.
        let deleted = try await engine.write("c", .deleteMatching(try Filter.parse(["v": 3])))
        #expect(deleted.count == 1)
        _ = try await engine.write("c", .delete(ids: ["old"], requireExisting: true))
        #expect(try await engine.search("c", queries: [[0, 0]], k: 10, filter: nil, threshold: nil)[0].isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func restartLosesNothing(_ backend: Backend) async throws {
        let (storage, place) = try makeStorage(backend)
        defer { cleanup(backend, place) }
        var rng = SeededRandom(seed: 7)
        do {
            let engine = makeEngine(storage)
            try await create(engine, "c", dim: 8, metric: .cosine)
            for b in 0..<5 {
                let items = (0..<100).map { i in WriteIntent.NewRecord(id: "\(b)-\(i)", vector: randomVector(8, .cosine, &rng)) }
                _ = try await engine.write("c", .insert(items, upsert: false))
            }
            _ = try await engine.write("c", .delete(ids: ["0-0", "0-1"], requireExisting: false))
        }
        let reopened = makeEngine(storage)
        let (_, stats) = try await reopened.describeCollection("c")
        #expect(stats.vectorCount == 498)
        await #expect(throws: ProximaError.self) { _ = try await reopened.getVector("c", id: "0-0") }
        #expect(try await reopened.getVector("c", id: "4-99").id == "4-99")
    }

    @Test(arguments: Backend.allCases)
    func concurrentWritersInOneProcessAreGroupCommitted(_ backend: Backend) async throws {
        let (storage, place) = try makeStorage(backend)
        defer { cleanup(backend, place) }
        let engine = makeEngine(storage)
        try await create(engine, "c", dim: 4, metric: .euclidean)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<50 {
                group.addTask {
                    _ = try await engine.write("c", .insert([.init(id: "t\(t)", vector: [Float(t), 0, 0, 0])], upsert: false))
                }
            }
            try await group.waitForAll()
        }
        let (_, stats) = try await engine.describeCollection("c")
        #expect(stats.vectorCount == 50)
        #expect(stats.walSequence < 50, "50 concurrent writes should share WAL objects (got \(stats.walSequence))")
    }

    @Test(arguments: Backend.allCases)
    func twoEnginesOnOneStoreLoseAndDuplicateNothing(_ backend: Backend) async throws {
        let (storage, place) = try makeStorage(backend)
        defer { cleanup(backend, place) }
        let e1 = makeEngine(storage), e2 = makeEngine(storage)
        try await create(e1, "c", dim: 3, metric: .euclidean)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, engine) in [e1, e2].enumerated() {
                for t in 0..<20 {
                    group.addTask {
                        let items = (0..<5).map { i in WriteIntent.NewRecord(id: "e\(n)-\(t)-\(i)", vector: [Float(n), Float(t), Float(i)]) }
                        _ = try await engine.write("c", .insert(items, upsert: false))
                    }
                }
            }
            try await group.waitForAll()
        }
        for engine in [e1, e2] {
            let hits = try await engine.search("c", queries: [[0, 0, 0]], k: 1000, filter: nil, threshold: nil)[0]
            #expect(hits.count == 200)
            #expect(Set(hits.map(\.record.id)).count == 200)
        }
    }

    @Test(arguments: Backend.allCases)
    func collectionLifecycle(_ backend: Backend) async throws {
        let (storage, place) = try makeStorage(backend)
        defer { cleanup(backend, place) }
        let engine = makeEngine(storage)
        try await create(engine, "c", dim: 3, metric: .cosine, settings: ["default_ttl_seconds": 3600])
        await #expect(throws: ProximaError.self) { try await create(engine, "c", dim: 3, metric: .cosine) }
        let patched = try await engine.updateCollection("c", CollectionPatch(description: "hello", tags: ["x"]))
        #expect(patched.description == "hello" && patched.tags == ["x"])
        _ = try await engine.write("c", .insert([.init(id: "a", vector: [1, 0, 0])], upsert: false))
        let a = try await engine.getVector("c", id: "a")
        #expect(a.expiresAt != nil, "default TTL applies")
        try await engine.deleteCollection("c")
        await #expect(throws: ProximaError.self) { _ = try await engine.getVector("c", id: "a") }
        try await create(engine, "c", dim: 3, metric: .cosine)
        await #expect(throws: ProximaError.self) { _ = try await engine.getVector("c", id: "a") }
        #expect(try await engine.listCollections(tenant: .default).map(\.name) == ["c"])
    }
}
