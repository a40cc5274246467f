import Foundation
import ProximaTesting
import Testing
@testable import ProximaCloud
@testable import ProximaCore
@testable import ProximaEngine

/// Segments opened cold (a memory budget: vectors and posting lists stay in
/// the store and are read by range) answer exactly as segments held in
/// memory, at the same widths, through writes, flushes, compactions,
/// restarts and updates of records whose vectors are in the store.
@Suite struct ColdReadPathTests {
    func engine(_ storage: any CloudStorage, cold: Bool) -> Engine {
        var settings = MaintenanceSettings()
        settings.indexMinRows = 300
        settings.manifestRecheck = .zero
        settings.catalogRecheck = .zero
        settings.flushThresholdBytes = 1 << 40
        settings.gcGraceMicros = 3600 * 1_000_000
        settings.memoryBudgetBytes = cold ? 64 << 20 : nil
        return Engine(storage: storage, maintenance: settings, logger: quietLogger)
    }

    /// Both engines' answers to the same queries: ids, and distances to 1e-4.
    func expectSameAnswers(_ warm: Engine, _ cold: Engine, _ queries: [[Float]], _ label: String) async throws {
        let g = try Filter.parse(["g": ["$lt": 30]])
        let rare = try Filter.parse(["g": 7])
        for (i, q) in queries.enumerated() {
            for (filter, exact, target) in [(nil, false, nil), (nil, true, nil), (g, false, nil), (rare, false, nil), (nil, false, 0.95)] as [(Filter?, Bool, Double?)] {
                let request = SearchRequest(collection: "c", queries: [q], k: 10, filter: filter, exact: exact, targetRecall: target)
                let a = try await warm.search(request)[0], b = try await cold.search(request)[0]
                let what = "\(label) query \(i) filter \(filter != nil) exact \(exact) target \(target ?? 0)"
                #expect(a.map(\.record.id) == b.map(\.record.id), "\(what)")
                #expect(zip(a, b).allSatisfy { abs($0.distance - $1.distance) <= 1e-4 * max(1, abs($0.distance)) }, "\(what)")
                #expect(zip(a, b).allSatisfy { $0.record == $1.record }, "\(what): records")
            }
        }
    }

    @Test(arguments: [("euclidean", "sq8"), ("cosine", "pq"), ("dot_product", "sq8"), ("euclidean", "binary"), ("cosine", "flat")])
    func coldAnswersEqualWarmAnswers(_ metric: String, _ quantization: String) async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let storage = try LocalDirectoryStorage(root: dir)
        let writer = engine(storage, cold: false)
        let dim = 16
        _ = try await writer.createCollection(
            CollectionSpec(
                name: "c", dimension: dim, distanceMetric: DistanceMetric(rawValue: metric)!, indexingAlgorithm: .ivf,
                filterableFields: [.init(name: "g", type: .integer)],
                settings: ["quantization": .string(quantization), "pq_subvectors": 4, "n_probes": 4]),
            tenant: .default)
        var rng = SeededRandom(seed: UInt64(metric.utf8.count * 31 + quantization.utf8.count))
        let centres = (0..<12).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        func vector() -> [Float] {
            let c = centres[Int.random(in: 0..<12, using: &rng)]
            let scale: Float = metric == "dot_product" ? Float.random(in: 0.2...3, using: &rng) : 1
            return c.map { ($0 + Float.random(in: -0.3...0.3, using: &rng)) * scale }
        }
        var known: [String] = []
        let queries = (0..<6).map { _ in vector() }
        for round in 0..<6 {
            // Inserts, upserts of known ids, deletes, and updates that keep the stored vector.
            let fresh = (0..<Int.random(in: 300...700, using: &rng)).map { i in
                WriteIntent.NewRecord(id: "r\(round)-\(i)", vector: vector(), metadata: ["g": .int(Int64.random(in: 0..<100, using: &rng))])
            }
            _ = try await writer.write("c", .insert(fresh, upsert: false))
            known += fresh.compactMap(\.id)
            if round > 0 {
                let moved = (0..<60).map { _ in known.randomElement(using: &rng)! }
                _ = try await writer.write("c", .insert(Set(moved).map { .init(id: $0, vector: vector(), metadata: ["g": 7]) }, upsert: true))
                _ = try await writer.write("c", .delete(ids: (0..<40).map { _ in known.randomElement(using: &rng)! }, requireExisting: false))
            }
            _ = try await writer.requestJob("c", kind: .flush, wait: true)
            if round % 3 == 2 { _ = try await writer.requestJob("c", kind: .compactAll, wait: true) }
            // A tail after the segments.
            _ = try await writer.write("c", .insert([.init(id: "tail\(round)", vector: vector(), metadata: ["g": 1])], upsert: false))
            let warm = engine(storage, cold: false), cold = engine(storage, cold: true)
            try await expectSameAnswers(warm, cold, queries, "\(metric)/\(quantization) round \(round)")
            // Reads of single records, and metadata updates of records whose vectors only the store holds.
            for id in (0..<5).map({ _ in known.randomElement(using: &rng)! }) {
                let a = try? await warm.getVector("c", id: id), b = try? await cold.getVector("c", id: id)
                #expect(a == b, "get \(id)")
                if b != nil {
                    let updated = try await cold.write("c", .update(id: id, vector: nil, metadata: ["g": 99], expiresAt: .keep))
                    #expect(updated.record?.vector == b?.vector, "an update keeps the vector the store holds")
                    #expect(try await warm.getVector("c", id: id).vector == b?.vector)
                }
            }
            #expect(try await cold.open("c").stats().indexedSegments == warm.open("c").stats().indexedSegments)
        }
    }
}
