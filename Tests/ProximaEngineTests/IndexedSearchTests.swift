import Foundation
import ProximaTesting
import Testing
@testable import ProximaCloud
@testable import ProximaCore
@testable import ProximaEngine
import ProximaFormat
@testable import ProximaIndex

/// Collections search through their segments' indexes: recall against exact
/// search, filters, and writes made after the index was built.
@Suite struct IndexedSearchTests {
    /// An engine that indexes segments from 500 live rows.
    func makeEngine(_ storage: any CloudStorage) -> Engine {
        var settings = MaintenanceSettings()
        settings.indexMinRows = 500
        return Engine(storage: storage, maintenance: settings, logger: quietLogger)
    }

    /// `algorithm` is the collection's `indexing_algorithm`, or `ivf-` and its `quantization`.
    @Test(arguments: ["hnsw", "ivf", "pq", "ivf-binary"])
    func recallThroughSegmentIndexes(_ algorithm: String) async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let storage = try LocalDirectoryStorage(root: dir)
        let engine = makeEngine(storage)
        let dim = 32, n = 4000
        _ = try await engine.createCollection(
            CollectionSpec(
                name: "c", dimension: dim, indexingAlgorithm: .init(rawValue: String(algorithm.prefix { $0 != "-" }))!,
                filterableFields: [.init(name: "g", type: .integer)],
                settings: ["pq_subvectors": 8, "n_probes": 12].merging(
                    algorithm.hasPrefix("ivf-") ? ["quantization": .string(String(algorithm.dropFirst(4)))] : [:]) { a, _ in a }),
            tenant: .default)
        var rng = SeededRandom(seed: 21)
        let centres = (0..<16).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        func vector(_ i: Int) -> [Float] { centres[i % 16].map { $0 + Float.random(in: -0.3...0.3, using: &rng) } }
        let records = (0..<n).map { i in WriteIntent.NewRecord(id: "v\(i)", vector: vector(i), metadata: ["g": .int(Int64(i % 100))]) }
        _ = try await engine.write("c", .insert(records, upsert: false))
        let (_, report) = try await engine.requestJob("c", kind: .flush, wait: true)
        #expect(report?.status == .done)
        let collection = try await engine.open("c")
        #expect(try await collection.stats().indexedSegments == 1)
        // Writes after the index was built: moved vectors and deletes.
        let moved = (0..<200).map { i in WriteIntent.NewRecord(id: "v\(i * 7)", vector: vector(i + 3), metadata: ["g": 5]) }
        _ = try await engine.write("c", .insert(moved, upsert: true))
        _ = try await engine.write("c", .delete(ids: (0..<100).map { "v\($0 * 11 + 1)" }, requireExisting: false))
        var hits = 0, filteredHits = 0, calibratedHits = 0
        let queries = (0..<40).map { vector($0 * 13) }
        for q in queries {
            let exact = try await collection.search(queries: [q], k: 10, filter: nil, threshold: nil, exact: true)[0].map(\.record.id)
            let approx = try await collection.search(queries: [q], k: 10, filter: nil, threshold: nil)[0].map(\.record.id)
            hits += Set(exact).intersection(approx).count
            // A target recall picks each index's width from its build-time calibration.
            let calibrated = try await collection.search(queries: [q], k: 10, filter: nil, threshold: nil, targetRecall: 0.99)[0].map(\.record.id)
            calibratedHits += Set(exact).intersection(calibrated).count
            let onePercent = try Filter.parse(["g": 42])
            let exactF = try await collection.search(queries: [q], k: 10, filter: onePercent, threshold: nil, exact: true)[0].map(\.record.id)
            let approxF = try await collection.search(queries: [q], k: 10, filter: onePercent, threshold: nil)[0].map(\.record.id)
            filteredHits += Set(exactF).intersection(approxF).count
        }
        let recall = Double(hits) / 400, filteredRecall = Double(filteredHits) / 400
        #expect(recall >= 0.95, "\(algorithm): recall@10 \(recall)")
        #expect(filteredRecall >= 0.95, "\(algorithm): 1% filter recall@10 \(filteredRecall)")
        #expect(Double(calibratedHits) / 400 >= 0.96, "\(algorithm): recall@10 at target 0.99: \(Double(calibratedHits) / 400)")
        // A fresh process loads the index from the store and agrees.
        let fresh = try await makeEngine(storage).open("c")
        #expect(try await fresh.stats().indexedSegments == 1)
        let q = queries[3]
        #expect(
            try await fresh.search(queries: [q], k: 10, filter: nil, threshold: nil)[0].map(\.record.id)
                == collection.search(queries: [q], k: 10, filter: nil, threshold: nil)[0].map(\.record.id))
    }

    /// Dot-product collections are indexed by IVF (graphs over raw inner
    /// products lose recall on unequal norms): recall against exact search on
    /// vectors of very unequal norms at a calibrated target, exact inner
    /// products as distances, and the same answers from a fresh process.
    @Test func innerProductThroughIVF() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let storage = try LocalDirectoryStorage(root: dir)
        let engine = makeEngine(storage)
        let dim = 24, n = 3000
        _ = try await engine.createCollection(CollectionSpec(name: "ip", dimension: dim, distanceMetric: .dotProduct), tenant: .default)
        var rng = SeededRandom(seed: 8)
        func vector(_ i: Int) -> [Float] {
            let scale = Float.random(in: 0.2...3, using: &rng)  // norms differ 15-fold
            return (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) * scale }
        }
        let records = (0..<n).map { i in WriteIntent.NewRecord(id: "v\(i)", vector: vector(i), metadata: [:]) }
        _ = try await engine.write("ip", .insert(records, upsert: false))
        #expect(try await engine.requestJob("ip", kind: .flush, wait: true).1?.status == .done)
        let collection = try await engine.open("ip")
        #expect(try await collection.stats().indexedSegments == 1)
        let fresh = try await makeEngine(storage).open("ip")
        var hits = 0
        for qi in 0..<30 {
            let q = vector(qi)
            let exact = try await collection.search(queries: [q], k: 10, filter: nil, threshold: nil, exact: true)[0]
            let approx = try await collection.search(queries: [q], k: 10, filter: nil, threshold: nil, targetRecall: 0.99)[0]
            hits += Set(exact.map(\.record.id)).intersection(approx.map(\.record.id)).count
            for hit in approx {
                let dot = zip(q, hit.record.vector).reduce(Float(0)) { $0 + $1.0 * $1.1 }
                #expect(abs(hit.distance + dot) <= 1e-3 * max(1, abs(dot)), "distance \(hit.distance) for a dot product of \(dot)")
            }
            #expect(
                try await fresh.search(queries: [q], k: 10, filter: nil, threshold: nil, targetRecall: 0.99)[0].map(\.record.id)
                    == approx.map(\.record.id))
        }
        // IVF picks lists by a bound on the inner product (centroid plus radius), so the calibrated
        // target holds on unequal norms (picked by euclidean distance to centroids it was 0.92 here).
        #expect(Double(hits) / 300 >= 0.97, "recall@10 \(Double(hits) / 300)")
    }

    /// A cold query on an IVF index file in S3 (moto, signed ranged GETs):
    /// the prefix once, then two rounds of ranged reads per query, and the
    /// answer the index gives in memory.
    @Test func coldIVFQueryThroughRangedGets() async throws {
        let moto = try Emulators.moto.get()
        let storage = try S3Storage(
            .init(bucket: moto["bucket"], prefix: "cold-\(UUID().uuidString)", endpoint: moto["endpoint"]),
            credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: moto["access_key_id"], secretAccessKey: moto["secret_access_key"])))
        let dim = 64, n = 6000
        var rng = SeededRandom(seed: 3)
        let centres = (0..<20).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        let rows = (0..<n).map { i in centres[i % 20].map { $0 + Float.random(in: -0.4...0.4, using: &rng) } }
        let index = IVFIndex(vectors: rows.flatMap { $0 }, count: n, metric: .cosine, dimension: dim, parameters: .init(nLists: 80, codes: .rabitq))
            .renumberedByPosition().index
        let file = index.serialized()
        _ = try await storage.put("segments/s1/index.ivf", file)
        let (cold, opening) = try await IVFIndex.RangedFile.open(size: file.count) { range in
            try await storage.get("segments/s1/index.ivf", range: range).bytes
        }
        #expect(opening.requests == 1, "the prefix fits the first read")
        for qi in 0..<10 {
            let q = rows[qi * 37].map { $0 + 0.05 }
            let (hits, cost) = try await cold.search(q, k: 10, nProbes: 6, rerank: 10)
            #expect(hits.map(\.slot) == index.search(q, k: 10, nProbes: 6, rerank: 10).map(\.slot))
            #expect(cost.rounds == 2 && cost.requests <= 6 + 100 && cost.bytes < file.count / 5, "\(cost) of \(file.count) bytes")
        }
    }

    /// Compaction keeps the biggest input's graph (its live nodes) and inserts
    /// the other inputs' rows: the merged segment answers with recall within
    /// 0.01 of a segment built from scratch over the same rows, and never
    /// with a superseded or deleted row.
    @Test func compactionKeepsTheBiggestGraph() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let engine = makeEngine(try LocalDirectoryStorage(root: dir))
        let dim = 32
        for name in ["merged", "fresh"] {
            _ = try await engine.createCollection(CollectionSpec(name: name, dimension: dim, indexingAlgorithm: .hnsw), tenant: .default)
        }
        var rng = SeededRandom(seed: 33)
        let centres = (0..<16).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        func vector(_ i: Int) -> [Float] { centres[i % 16].map { $0 + Float.random(in: -0.3...0.3, using: &rng) } }
        var model: [String: [Float]] = [:]
        let first = (0..<4000).map { i in WriteIntent.NewRecord(id: "v\(i)", vector: vector(i)) }
        _ = try await engine.write("merged", .insert(first, upsert: false))
        _ = try await engine.requestJob("merged", kind: .flush, wait: true)
        for r in first { model[r.id!] = r.vector }
        // 5 % of the graph's rows moved, 2.5 % deleted, 1,000 new rows: a second indexed segment.
        let moved = (0..<200).map { i in WriteIntent.NewRecord(id: "v\(i * 13)", vector: vector(i + 5)) }
        let added = (4000..<5000).map { i in WriteIntent.NewRecord(id: "v\(i)", vector: vector(i)) }
        let deleted = (0..<100).map { "v\($0 * 13 + 6)" }
        _ = try await engine.write("merged", .insert(moved + added, upsert: true))
        _ = try await engine.write("merged", .delete(ids: deleted, requireExisting: false))
        for r in moved + added { model[r.id!] = r.vector }
        for id in deleted { model[id] = nil }
        _ = try await engine.requestJob("merged", kind: .flush, wait: true)
        let (_, report) = try await engine.requestJob("merged", kind: .compactAll, wait: true)
        #expect(report?.status == .done)
        #expect(report?.details["graph_nodes_kept"] == .int(3700), "\(report?.details ?? [:])")
        let merged = try await engine.open("merged")
        let stats = try await merged.stats()
        #expect(stats.indexedSegments == 1 && stats.vectorCount == model.count)
        // The merged file's rows stay in id order (the kept graph names them by id): lookups by id stay a binary search.
        let storage = try LocalDirectoryStorage(root: dir)
        let config = try await engine.catalog(.default).get("merged").config
        let segment = try await ManifestStore(storage: storage, layout: StorageLayout(), collectionId: config.id).latest().segments[0]
        let bytes = try await storage.get(StorageLayout().segmentDataKey(config.id, segment: segment.id)).bytes
        let ids = try SegmentCodec.decode(bytes, checksum: segment.crc32c).rows.filter { !$0.deleted }.map(\.record.id)
        #expect(ids.count == model.count && ids == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        // The same rows, flushed once: a graph built from scratch.
        _ = try await engine.write("fresh", .insert(model.map { WriteIntent.NewRecord(id: $0.key, vector: $0.value) }, upsert: false))
        _ = try await engine.requestJob("fresh", kind: .flush, wait: true)
        let fresh = try await engine.open("fresh")
        var mergedHits = 0, freshHits = 0
        for i in 0..<100 {
            let q = vector(i * 7 + 1)
            let truth = Set(try await merged.search(queries: [q], k: 10, filter: nil, threshold: nil, exact: true)[0].map(\.record.id))
            let m = try await merged.search(queries: [q], k: 10, filter: nil, threshold: nil)[0]
            for hit in m { #expect(model[hit.record.id] == hit.record.vector, "\(hit.record.id): stale or deleted") }
            mergedHits += m.filter { truth.contains($0.record.id) }.count
            freshHits += try await fresh.search(queries: [q], k: 10, filter: nil, threshold: nil)[0].filter { truth.contains($0.record.id) }.count
        }
        #expect(Double(mergedHits) / 1000 >= Double(freshHits) / 1000 - 0.01, "recall@10 merged \(mergedHits), fresh \(freshHits) of 1000")
    }
}
