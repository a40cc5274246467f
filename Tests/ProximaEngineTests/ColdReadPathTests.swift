import Foundation
import Synchronization
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
    /// `recheck`: how long catalog entries and manifest listings are trusted (zero: every request rereads them).
    func engine(_ storage: any CloudStorage, cold: Bool, recheck: Duration = .zero, budget: Int = 64 << 20) -> Engine {
        var settings = MaintenanceSettings()
        settings.indexMinRows = 300
        settings.manifestRecheck = recheck
        settings.catalogRecheck = recheck
        settings.flushThresholdBytes = 1 << 40
        settings.gcGraceMicros = 3600 * 1_000_000
        settings.memoryBudgetBytes = cold ? budget : nil
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
        try await coldEqualsWarm(storage: try LocalDirectoryStorage(root: dir), metric, quantization, rounds: 6)
    }

    /// The same on moto's S3, the cold process reading through a disk tier
    /// far smaller than what it reads (entries evicted all along).
    @Test func coldAnswersEqualWarmAnswersOnMotoThroughAnEvictingCache() async throws {
        let moto = try Emulators.moto.get()
        let storage = try S3Storage(
            .init(bucket: moto["bucket"], prefix: "cold-\(UUID().uuidString)", endpoint: moto["endpoint"]),
            credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: moto["access_key_id"], secretAccessKey: moto["secret_access_key"])))
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let tier = try DiskCache(path: dir, capacityBytes: 128 << 10)
        try await coldEqualsWarm(storage: storage, "euclidean", "sq8", rounds: 3) { store in
            CachingStorage(store: store, tiers: [tier], isImmutable: StorageLayout.isImmutable)
        }
        #expect(tier.stats.evictions > 0 && tier.stats.hits > 0, "\(tier.stats)")
    }

    /// Rounds of random writes, flushes and compactions; after each, a fresh
    /// warm and a fresh cold process (reading through `coldStorage`) must agree.
    func coldEqualsWarm(
        storage: any CloudStorage, _ metric: String, _ quantization: String, rounds: Int,
        coldStorage: (any CloudStorage) -> any CloudStorage = { $0 }
    ) async throws {
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
        for round in 0..<rounds {
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
            let warm = engine(storage, cold: false), cold = engine(coldStorage(storage), cold: true)
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

    /// What a cold process reads: ranges of the segment and index, never the
    /// whole segment; its first query in a bounded number of sequential
    /// rounds; then, with the cache tiers filled behind it, one request per
    /// strongly consistent query (the WAL probe).
    @Test func coldQueriesReadRangesThenWarmQueriesCostOneRequest() async throws {
        let store = MemoryStorage()
        let writer = engine(store, cold: false)
        let dim = 64, n = 3000
        _ = try await writer.createCollection(
            CollectionSpec(name: "c", dimension: dim, indexingAlgorithm: .ivf, settings: ["n_probes": 4]), tenant: .default)
        var rng = SeededRandom(seed: 5)
        let vectors = (0..<n).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        // Three segments: they open together, so the rounds do not grow with their number.
        for part in 0..<3 {
            let rows = (part * n / 3)..<((part + 1) * n / 3)
            _ = try await writer.write("c", .insert(rows.map { .init(id: "v\($0)", vector: vectors[$0]) }, upsert: false))
            _ = try await writer.requestJob("c", kind: .flush, wait: true)
        }
        let parquet = try await store.listAll(prefix: "").filter { $0.key.hasSuffix(".parquet") }
        #expect(parquet.count == 3)
        let segmentBytes = parquet.map(\.size).reduce(0, +)
        #expect(segmentBytes > n * dim * 4)

        // Every request held 100 ms, so requests issued together overlap: the log's depth counts sequential rounds.
        let reads = ReadLog(store, latency: .milliseconds(100))
        let reader = engine(reads, cold: true, recheck: .seconds(60))
        let first = try await reader.search(SearchRequest(collection: "c", queries: [vectors[7]], k: 5))[0]
        #expect(first.first?.record.id == "v7" && first.first?.record.vector == vectors[7])
        // The catalog entry with the manifest copy beside it; the listing that confirms the copy, with the
        // segments' row columns, their index heads and the WAL probe; posting lists; rerank vectors.
        #expect(reads.rounds <= 4, "a cold query took \(reads.rounds) rounds")
        let segmentReads = reads.log.filter { $0.key.hasSuffix(".parquet") }
        #expect(!segmentReads.isEmpty && segmentReads.allSatisfy { $0.range != nil }, "the segment is read by range only")
        #expect(segmentReads.reduce(0) { $0 + ($1.range?.count ?? segmentBytes) } < segmentBytes / 2)
        // Posting lists past the index's head are read while the segments' rows decode (`ColdQueryHint`), and the
        // search takes those reads: no range of an index file is read twice.
        let indexReads = reads.log.filter { $0.key.hasSuffix(".ivf") }.map { "\($0.key)#\(String(describing: $0.range))" }
        #expect(Set(indexReads).count == indexReads.count, "\(indexReads)")

        // A strong query searches while its WAL probe is in flight (once a catch-up has found nothing new):
        // it takes no more sequential rounds than an eventual one, which makes no probe.
        _ = try await reader.search(SearchRequest(collection: "c", queries: [vectors[8]], k: 5))
        var rounds: [Consistency: Int] = [:]
        for (i, consistency) in [(9, Consistency.eventual), (10, .strong)] {
            let start = reads.log.count
            let hits = try await reader.search(SearchRequest(collection: "c", queries: [vectors[i]], k: 5, consistency: consistency))[0]
            #expect(hits.first?.record.id == "v\(i)")
            rounds[consistency] = reads.rounds(since: start)
            #expect(reads.log[start...].contains { $0.key.contains("/wal/") } == (consistency == .strong))
        }
        #expect(rounds[.eventual]! >= 1 && rounds[.strong] == rounds[.eventual], "\(rounds)")

        // Behind a cache tier, filled with whole objects after the first query's misses.
        let cachedReads = ReadLog(store)
        let cached = CachingStorage(store: cachedReads, tiers: [MemoryCache(capacityBytes: 64 << 20)], isImmutable: StorageLayout.isImmutable)
        let warm = engine(cached, cold: true, recheck: .seconds(60))
        _ = try await warm.search(SearchRequest(collection: "c", queries: [vectors[1]], k: 5))
        await cached.settle()
        let before = cachedReads.log.count
        for i in 0..<10 {
            let hits = try await warm.search(SearchRequest(collection: "c", queries: [vectors[i * 11]], k: 5))[0]
            #expect(hits.first?.record.id == "v\(i * 11)")
        }
        #expect(cachedReads.log.count - before == 10, "warm strong queries: one request each, \(cachedReads.log[before...].map(\.key))")
    }
}

extension ColdReadPathTests {
    /// Collection "c" (HNSW, `metric`, filterable integer "g"): `n` clustered
    /// vectors flushed in three segments, then compacted into one keeping the
    /// biggest graph. Returns the vectors (`v\(i)` is `vectors[i]`).
    func makeGraphCollection(_ writer: Engine, metric: String, dim: Int, n: Int, seed: UInt64) async throws -> [[Float]] {
        _ = try await writer.createCollection(
            CollectionSpec(
                name: "c", dimension: dim, distanceMetric: DistanceMetric(rawValue: metric)!, indexingAlgorithm: .hnsw,
                filterableFields: [.init(name: "g", type: .integer)]),
            tenant: .default)
        var rng = SeededRandom(seed: seed)
        let centres = (0..<40).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        let vectors = (0..<n).map { _ in centres.randomElement(using: &rng)!.map { $0 + Float.random(in: -0.25...0.25, using: &rng) } }
        for part in 0..<3 {
            let rows = (part * n / 3)..<((part + 1) * n / 3)
            _ = try await writer.write("c", .insert(rows.map { .init(id: "v\($0)", vector: vectors[$0], metadata: ["g": .int(Int64($0 % 50))]) }, upsert: false))
            _ = try await writer.requestJob("c", kind: .flush, wait: true)
        }
        _ = try await writer.requestJob("c", kind: .compactAll, wait: true)
        return vectors
    }

    /// A graph segment under a memory budget is never read whole: its route
    /// (an IVF file over the same nodes, lists drawn from the graph) serves
    /// it by ranged reads, through flushes and a compaction that keeps the
    /// graph, at the recall its calibration promises; exact and filtered
    /// answers equal the in-memory graph's process's.
    @Test(arguments: ["euclidean", "cosine"])
    func aGraphSegmentIsServedColdThroughItsRoute(_ metric: String) async throws {
        let store = MemoryStorage()
        let writer = engine(store, cold: false)
        let dim = 32, n = 6000
        let vectors = try await makeGraphCollection(writer, metric: metric, dim: dim, n: n, seed: 11)
        let config = try await writer.catalog(.default).get("c").config
        let manifest = try await ManifestStore(storage: store, layout: StorageLayout(), collectionId: config.id).latest()
        #expect(!manifest.segments.isEmpty && manifest.segments.allSatisfy { $0.index?.kind == "hnsw" && $0.route?.kind == "ivf" })
        // No second copy of the vectors: codes and the node table.
        #expect(manifest.segments.allSatisfy { $0.route!.bytes * 2 < $0.rows * dim * 4 }, "\(manifest.segments)")

        let reads = ReadLog(store)
        let cold = engine(reads, cold: true)
        let warm = engine(store, cold: false)
        var found = 0, asked = 0
        for i in stride(from: 3, to: n, by: 97) {
            let q = vectors[i].map { $0 + 0.05 }
            let exact = try await warm.search(SearchRequest(collection: "c", queries: [q], k: 10, exact: true))[0].map(\.record.id)
            let hits = try await cold.search(SearchRequest(collection: "c", queries: [q], k: 10, targetRecall: 0.95))[0].map(\.record.id)
            found += Set(hits).intersection(exact).count
            asked += exact.count
            let coldExact = try await cold.search(SearchRequest(collection: "c", queries: [q], k: 10, exact: true))[0].map(\.record.id)
            #expect(coldExact == exact)
            let filter = try Filter.parse(["g": ["$lt": 5]])
            let a = try await warm.search(SearchRequest(collection: "c", queries: [q], k: 10, filter: filter, exact: true))[0].map(\.record.id)
            let b = try await cold.search(SearchRequest(collection: "c", queries: [q], k: 10, filter: filter, exact: true))[0].map(\.record.id)
            #expect(a == b)
        }
        let recall = Double(found) / Double(asked)
        #expect(recall >= 0.9, "recall@10 through the route at target 0.95: \(recall)")
        let log = reads.log
        #expect(!log.contains { $0.key.hasSuffix(".hnsw") }, "the graph is not read")
        #expect(log.filter { $0.key.hasSuffix(".parquet") }.allSatisfy { $0.range != nil }, "the segment is read by range only")
        #expect(log.contains { $0.key.hasSuffix(".ivf") && $0.range != nil })
        #expect(try await cold.open("c").stats().indexedSegments == manifest.segments.count)
    }

    /// Under a memory budget with a local-disk tier, a graph segment's graph
    /// and data are copied to the disk in the background; once there, the
    /// graph is searched in place (mapped) instead of through the route, with
    /// the answers the in-memory graph gives.
    @Test(arguments: ["euclidean", "cosine"])
    func aGraphOnLocalDiskIsSearchedInPlace(_ metric: String) async throws {
        let store = MemoryStorage()
        let writer = engine(store, cold: false)
        let dim = 32, n = 6000
        let vectors = try await makeGraphCollection(writer, metric: metric, dim: dim, n: n, seed: 12)
        // Two segments: the one a compaction kept a graph of, and a fresh flush.
        _ = try await writer.write("c", .insert((n..<(n + 600)).map { .init(id: "v\($0)", vector: vectors[$0 - n].map { $0 + 0.01 }) }, upsert: false))
        _ = try await writer.requestJob("c", kind: .flush, wait: true)

        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let reads = ReadLog(store)
        let caching = CachingStorage(store: reads, tiers: [try DiskCache(path: dir, capacityBytes: 64 << 20)], isImmutable: StorageLayout.isImmutable)
        let cold = engine(caching, cold: true)
        let warm = engine(store, cold: false)
        let q0 = vectors[5]
        // The first search opens the segments (served by their routes) and starts the copies.
        #expect(try await cold.search(SearchRequest(collection: "c", queries: [q0], k: 10))[0].first?.record.id == "v5")
        let handle = try await cold.open("c").handle
        await handle.settleLocalGraphs()
        let stats = try await cold.open("c").stats()
        #expect(stats.segmentCount == 2 && stats.localGraphSegments == 2, "\(stats)")
        let graphs = await handle.state.view.segments.compactMap { $0.data.cold?.graph }
        #expect(graphs.count == 2)
        let before = graphs.map(\.searchCount).reduce(0, +)
        let fetched = reads.log.count

        var found = 0, asked = 0, agree = 0
        let filter = try Filter.parse(["g": ["$lt": 10]])
        for i in stride(from: 3, to: n, by: 97) {
            let q = vectors[i].map { $0 + 0.05 }
            let exact = try await warm.search(SearchRequest(collection: "c", queries: [q], k: 10, exact: true))[0].map(\.record.id)
            let inMemory = try await warm.search(SearchRequest(collection: "c", queries: [q], k: 10))[0].map(\.record.id)
            let hits = try await cold.search(SearchRequest(collection: "c", queries: [q], k: 10))[0]
            found += Set(hits.map(\.record.id)).intersection(exact).count
            agree += Set(hits.map(\.record.id)).intersection(inMemory).count
            asked += exact.count
            #expect(hits.allSatisfy { $0.record.vector.count == dim }, "hits carry their vectors")
            let a = try await warm.search(SearchRequest(collection: "c", queries: [q], k: 10, filter: filter))[0].map(\.record.id)
            let b = try await cold.search(SearchRequest(collection: "c", queries: [q], k: 10, filter: filter))[0].map(\.record.id)
            #expect(Set(a).intersection(b).count >= 8, "filtered: \(a) vs \(b)")
        }
        #expect(Double(found) / Double(asked) >= 0.95, "recall@10 of the mapped graphs: \(Double(found) / Double(asked))")
        #expect(Double(agree) / Double(asked) >= 0.98, "agreement with the in-memory graphs: \(Double(agree) / Double(asked))")
        // Every unfiltered search went through both graphs (a filter matching 1,200 nodes plans an exact pass over them, as in memory).
        #expect(graphs.map(\.searchCount).reduce(0, +) - before == 2 * ((n - 3 + 96) / 97), "every search went through the graphs")
        // Nothing more came from the store for those searches but manifest checks.
        #expect(reads.log.dropFirst(fetched).allSatisfy { !$0.key.contains("/segments/") }, "\(reads.log.dropFirst(fetched).map(\.key))")

        // A budget whose share for mappings cannot hold a segment's graph and data: the routes serve.
        let small = engine(CachingStorage(store: store, tiers: [try DiskCache(path: dir + "/small", capacityBytes: 64 << 20)], isImmutable: StorageLayout.isImmutable), cold: true, budget: 1 << 20)
        #expect(try await small.search(SearchRequest(collection: "c", queries: [q0], k: 10))[0].first?.record.id == "v5")
        await (try await small.open("c").handle).settleLocalGraphs()
        #expect(try await small.open("c").stats().localGraphSegments == 0)
    }

    /// A search that opens a collection cold has the posting lists its
    /// query probes read while the segment's rows are still arriving and
    /// decoding (`ColdQueryHint`): the lists' round overlaps the open, and
    /// the search takes those reads rather than repeating them.
    @Test func postingListsAreReadWhileTheSegmentOpens() async throws {
        let store = MemoryStorage()
        let writer = engine(store, cold: false)
        let dim = 32, n = 8000
        _ = try await writer.createCollection(
            CollectionSpec(name: "c", dimension: dim, indexingAlgorithm: .ivf, settings: ["n_probes": 4]), tenant: .default)
        var rng = SeededRandom(seed: 9)
        let vectors = (0..<n).map { _ in (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) } }
        _ = try await writer.write("c", .insert((0..<n).map { .init(id: "v\($0)", vector: vectors[$0]) }, upsert: false))
        _ = try await writer.requestJob("c", kind: .flush, wait: true)

        // The segment's data arrives 400 ms after it is asked for, everything else 20 ms.
        let reads = ReadLog(store, latency: .milliseconds(20), slow: (".parquet", .milliseconds(400)))
        let reader = engine(reads, cold: true, recheck: .seconds(60))
        let hits = try await reader.search(SearchRequest(collection: "c", queries: [vectors[42]], k: 5))[0]
        #expect(hits.first?.record.id == "v42")
        let log = reads.log
        let indexReads = log.filter { $0.key.hasSuffix(".ivf") }
        let rowColumns = try #require(log.first { $0.key.hasSuffix(".parquet") })
        let lists = indexReads.dropFirst()  // the first is the head and prefix
        #expect(!lists.isEmpty, "the index's lists lie past its prefix here")
        #expect(lists.allSatisfy { $0.began < rowColumns.ended }, "the lists were asked for before the rows arrived")
        let ranges = indexReads.map { "\($0.range!)" }
        #expect(Set(ranges).count == ranges.count, "no list read twice: \(ranges)")

        // A filtered search plans its own reads (the plan depends on the filter): nothing is read early.
        let filtered = ReadLog(store, latency: .milliseconds(20), slow: (".parquet", .milliseconds(400)))
        let other = engine(filtered, cold: true, recheck: .seconds(60))
        _ = try await other.search(SearchRequest(collection: "c", queries: [vectors[42]], k: 5, filter: try Filter.parse(["missing": ["$exists": false]])))
        let rows = try #require(filtered.log.first { $0.key.hasSuffix(".parquet") })
        #expect(filtered.log.filter { $0.key.hasSuffix(".ivf") }.dropFirst().allSatisfy { $0.began > rows.ended })
    }

    /// The manifest copy beside the catalog entry is only a hint: one naming
    /// another collection (dropped and created again under the name), one
    /// whose segments compaction and garbage collection removed, or a
    /// damaged one, each still give the right answers (by the listing).
    @Test func staleForeignOrDamagedManifestHintsAreOnlyHints() async throws {
        let store = MemoryStorage()
        var settings = MaintenanceSettings()
        settings.indexMinRows = 100
        settings.flushThresholdBytes = 1 << 40
        settings.gcGraceMicros = 0
        let writer = Engine(storage: store, maintenance: settings, logger: quietLogger)
        _ = try await writer.createCollection(CollectionSpec(name: "c", dimension: 8, indexingAlgorithm: .ivf), tenant: .default)
        var rng = SeededRandom(seed: 9)
        let vectors = (0..<600).map { _ in (0..<8).map { _ in Float.random(in: -1...1, using: &rng) } }
        _ = try await writer.write("c", .insert((0..<300).map { .init(id: "v\($0)", vector: vectors[$0]) }, upsert: false))
        _ = try await writer.requestJob("c", kind: .flush, wait: true)
        let hintKey = StorageLayout().manifestHintKey("c")
        let first = try await store.get(hintKey).bytes
        let firstHint = try #require(ManifestHint.decode(first))
        #expect(firstHint.manifest.segments.count == 1)
        _ = try await writer.write("c", .insert((300..<600).map { .init(id: "v\($0)", vector: vectors[$0]) }, upsert: false))
        _ = try await writer.requestJob("c", kind: .flush, wait: true)
        _ = try await writer.requestJob("c", kind: .compactAll, wait: true)
        _ = try await writer.requestJob("c", kind: .gc, wait: true)
        let newest = try #require(ManifestHint.decode(try await store.get(hintKey).bytes))
        #expect(newest.manifest.version > firstHint.manifest.version && newest.manifest.segments.count == 1)
        let firstSegment = StorageLayout().segmentDataKey(newest.collectionId, segment: firstHint.manifest.segments[0].id)
        #expect(await (try? store.get(firstSegment)) == nil, "compaction and GC removed the first segment")

        var foreign = firstHint
        foreign.collectionId = "another-collection"
        for (label, hint) in [("stale", first), ("foreign", foreign.encode()), ("damaged", Array(first.dropLast(3)))] {
            try await store.put(hintKey, hint, condition: .none)
            let reader = Engine(storage: store, maintenance: settings, logger: quietLogger)
            for i in [0, 299, 300, 599] {
                let hits = try await reader.search(SearchRequest(collection: "c", queries: [vectors[i]], k: 1, exact: true))[0]
                #expect(hits.first?.record.id == "v\(i)", "\(label) hint, query \(i)")
            }
            #expect(try await reader.describeCollection("c").1.vectorCount == 600, "\(label) hint")
        }
        // Dropping the collection drops its hint.
        try await writer.deleteCollection("c")
        #expect(await (try? store.get(hintKey)) == nil)
    }
}

/// A store that records the key and range of every read it passes on, and
/// when each began and ended on a logical clock: a read's round is one more
/// than the deepest read that ended before it began, so reads issued
/// together share a round however busy the machine is (`latency` keeps them
/// in flight long enough to overlap).
final class ReadLog: CloudStorage, Sendable {
    struct Entry {
        var key: String
        var range: Range<Int>?
        var began: Int
        var ended = Int.max
    }

    let store: any CloudStorage
    let latency: Duration
    /// Reads of keys with this suffix take this long instead.
    let slow: (suffix: String, latency: Duration)?
    private let state = Mutex<(entries: [Entry], clock: Int)>(([], 0))
    init(_ store: any CloudStorage, latency: Duration = .zero, slow: (suffix: String, latency: Duration)? = nil) {
        self.store = store
        self.latency = latency
        self.slow = slow
    }

    var log: [Entry] { state.withLock { $0.entries } }
    var description: String { store.description }

    /// Sequential rounds of reads so far.
    var rounds: Int { rounds(since: 0) }

    /// Sequential rounds of the reads after the first `start`.
    func rounds(since start: Int) -> Int {
        let entries = Array(log[start...])
        var depth = [Int](repeating: 0, count: entries.count)
        for i in entries.indices.sorted(by: { entries[$0].began < entries[$1].began }) {
            depth[i] = 1 + (entries.indices.filter { entries[$0].ended < entries[i].began }.map { depth[$0] }.max() ?? 0)
        }
        return depth.max() ?? 0
    }

    private func logged<T>(_ key: String, _ range: Range<Int>?, _ body: () async throws -> T) async throws -> T {
        let i = state.withLock { s in
            s.clock += 1
            s.entries.append(Entry(key: key, range: range, began: s.clock))
            return s.entries.count - 1
        }
        let wait = slow.map { key.hasSuffix($0.suffix) ? $0.latency : latency } ?? latency
        if wait > .zero { try await Task.sleep(for: wait) }
        defer {
            state.withLock { s in
                s.clock += 1
                s.entries[i].ended = s.clock
            }
        }
        return try await body()
    }

    func get(_ key: String, range: Range<Int>?) async throws -> StoredObject { try await logged(key, range) { try await store.get(key, range: range) } }
    func head(_ key: String) async throws -> ObjectInfo { try await logged(key, nil) { try await store.head(key) } }
    func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String { try await store.put(key, bytes, condition: condition) }
    func delete(_ key: String) async throws { try await store.delete(key) }
    func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await logged(prefix, nil) { try await store.list(prefix: prefix, startAfter: startAfter, limit: limit) }
    }
}
