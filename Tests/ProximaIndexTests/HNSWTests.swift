import Testing
@testable import ProximaCore
@testable import ProximaIndex

/// HNSW against exact search: recall bounds, not equality.
@Suite struct HNSWTests {
    func data(_ n: Int, _ dim: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        // Clustered data, as embeddings are: 20 centres plus noise.
        let centres = (0..<20).map { _ in (0..<dim).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        return (0..<n).map { i in centres[i % 20].map { $0 + Float(rng.nextUnit() - 0.5) * 0.6 } }
    }

    func exact(_ metric: DistanceMetric, _ base: [[Float]], _ q: [Float], k: Int, accept: (Int) -> Bool = { _ in true }) -> [Int] {
        base.indices.filter(accept).map { ($0, metric.distance(q, base[$0])) }.sorted { $0.1 < $1.1 }.prefix(k).map(\.0)
    }

    /// A graph's route: its upper-layer nodes as centroids (about 4·√n, each
    /// its own list), every node in a list, nearly always its nearest
    /// centroid's; an IVF index over it finds what exact search does.
    /// A stored graph searched in place, its vectors elsewhere (cosine: not
    /// normalised, unaligned), answers as the graph in memory does; a file
    /// cut short or with links outside the graph is refused or harmless.
    @Test(arguments: [DistanceMetric.cosine, .euclidean])
    func aMappedGraphSearchesAsTheGraphInMemory(_ metric: DistanceMetric) throws {
        let n = 5_000, dim = 24
        let base = data(n, dim, seed: 5)
        let index = HNSWIndex.build(vectors: base.flatMap { $0 }, metric: metric, dimension: dim, parameters: .init(m: 8, efConstruction: 64), threads: 2)
        let file = try HNSWIndex.mappable(index.serialized(includingVectors: false))
        // The vectors as a segment holds them: raw, at an odd offset.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * dim * 4 + 3, alignment: 16)
        defer { raw.deallocate() }
        for (i, v) in base.enumerated() { v.withUnsafeBytes { (raw + 3 + i * dim * 4).copyMemory(from: $0.baseAddress!, byteCount: dim * 4) } }
        let vectorOf = (0..<n).map { UnsafePointer((raw + 3 + $0 * dim * 4).assumingMemoryBound(to: Float.self)) }
        try file.withUnsafeBytes { body in
            let mapped = try MappedGraph(body: body, vectorOf: vectorOf, owners: [])
            var same = 0, total = 0
            for q in data(60, dim, seed: 6) {
                let a = index.search(q, k: 10, ef: 48), b = mapped.search(q, k: 10, ef: 48)
                same += Set(a.map(\.slot)).intersection(b.map(\.slot)).count
                total += a.count
                for (x, y) in zip(a, b) where x.slot == y.slot { #expect(abs(x.distance - y.distance) <= 1e-4) }
                let even = mapped.search(q, k: 5, ef: 48) { $0 % 2 == 0 }
                #expect(even.count == 5 && even.allSatisfy { $0.slot % 2 == 0 })
            }
            #expect(Double(same) / Double(total) >= 0.99, "\(same) of \(total)")
            #expect(throws: FormatError.self) { try MappedGraph(body: UnsafeRawBufferPointer(rebasing: body.dropLast(4)), vectorOf: vectorOf, owners: []) }
            #expect(throws: FormatError.self) { try MappedGraph(body: body, vectorOf: Array(vectorOf.dropLast()), owners: []) }
        }
        // Layer-0 links pointing outside the graph are skipped, not followed.
        var damaged = file
        let links0 = 64  // the header (56 bytes) aligned to 64
        for i in stride(from: links0, to: links0 + 4 * 16 * 40, by: 4) { damaged[i + 3] = 0x7f }
        try damaged.withUnsafeBytes { body in
            let mapped = try MappedGraph(body: body, vectorOf: vectorOf, owners: [])
            #expect(mapped.search(base[0], k: 10, ef: 32).allSatisfy { Int($0.slot) < n })
        }
    }

    @Test(arguments: [DistanceMetric.cosine, .euclidean])
    func routeDrawsListsFromTheGraph(_ metric: DistanceMetric) {
        let n = 8_000, dim = 16
        let base = data(n, dim, seed: 3)
        let index = HNSWIndex.build(vectors: base.flatMap { $0 }, metric: metric, dimension: dim, parameters: .init(m: 8, efConstruction: 64), threads: 2)
        let route = index.route(threads: 2)
        let k = route.centroids.count / dim
        #expect(k >= 1 && k <= Int(4 * Double(n).squareRoot()), "\(k) centroids")
        #expect(route.assignment.count == n && route.assignment.allSatisfy { $0 >= 0 && Int($0) < k })
        #expect(Set(route.assignment).count == k, "no empty list: each centroid is a node of its own list")
        // Nearest centroid, in the space the graph searches (cosine: unit vectors).
        var nearest = 0
        index.vectors.withUnsafeBufferPointer { v in
            route.centroids.withUnsafeBufferPointer { c in
                for node in 0..<n {
                    let q = v.baseAddress! + node * dim
                    let best = (0..<k).min { index.distance(q, c.baseAddress! + $0 * dim) < index.distance(q, c.baseAddress! + $1 * dim) }!
                    if index.distance(q, c.baseAddress! + best * dim) >= index.distance(q, c.baseAddress! + Int(route.assignment[node]) * dim) { nearest += 1 }
                }
            }
        }
        #expect(Double(nearest) / Double(n) >= 0.95, "\(nearest) of \(n) nodes in their nearest centroid's list")
        let ivf = IVFIndex(
            vectors: base.flatMap { $0 }, count: n, metric: metric, dimension: dim, parameters: .init(nLists: k, codes: .flat),
            assigned: (route.centroids, route.assignment))
        #expect(ivf.centroids == route.centroids, "the route is taken as it is, not trained again")
        var hits = 0
        let queries = data(40, dim, seed: 4)
        for q in queries {
            let got = Set(ivf.search(q, k: 10, nProbes: max(1, k / 5), rerank: 1, accept: nil, plan: nil).map { Int($0.slot) })
            hits += Set(exact(metric, base, q, k: 10)).intersection(got).count
        }
        #expect(Double(hits) / Double(queries.count * 10) >= 0.95)
    }

    // Dot product is not a metric: HNSW over raw inner products loses recall on
    // vectors of unequal norms; immutable segments will use the MIPS-to-L2
    // reduction (a norm-completing extra dimension) instead.
    @Test(arguments: [DistanceMetric.cosine, .euclidean, .manhattan])
    func recallAgainstExactSearch(_ metric: DistanceMetric) {
        let base = data(3000, 32, seed: 1)
        var index = HNSWIndex(metric: metric, dimension: 32, parameters: .init(m: 12, efConstruction: 100))
        for v in base { index.add(v) }
        let queries = data(50, 32, seed: 2)
        var hits = 0
        for q in queries {
            let got = Set(index.search(q, k: 10, ef: 80).map { Int($0.slot) })
            hits += Set(exact(metric, base, q, k: 10)).intersection(got).count
        }
        let recall = Double(hits) / Double(queries.count * 10)
        #expect(recall >= 0.95, "\(metric) recall@10 = \(recall)")
    }

    @Test func distancesAreTheMetricsOwn() {
        let base = data(500, 8, seed: 3)
        var index = HNSWIndex(metric: .euclidean, dimension: 8)
        for v in base { index.add(v) }
        let q = base[17]
        let top = index.search(q, k: 3, ef: 50)
        #expect(top.first?.slot == 17 && top.first?.distance == 0)
        for c in top { #expect(abs(c.distance - DistanceMetric.euclidean.distance(q, base[Int(c.slot)])) < 1e-3) }
    }

    static let filtered: ([[Float]], HNSWIndex) = {
        let base = HNSWTests().data(4000, 16, seed: 4)
        var index = HNSWIndex(metric: .euclidean, dimension: 16)
        for v in base { index.add(v) }
        return (base, index)
    }()

    /// 1% and 10% filters, by each plan: filter-first, and the graph widened by 1/selectivity.
    @Test(arguments: [(100, FilterPlan.filterFirst), (10, .widened(10)), (100, .widened(64))])
    func filteredSearchKeepsRecall(every: Int, plan: FilterPlan) {
        let (base, index) = Self.filtered
        var hits = 0
        let queries = data(30, 16, seed: 5)
        for q in queries {
            let got = index.search(q, k: 10, ef: 32, accept: { $0 % Int32(every) == 3 }, plan: plan)
            #expect(got.allSatisfy { $0.slot % Int32(every) == 3 } && got.count == 10)
            hits += Set(exact(.euclidean, base, q, k: 10) { $0 % every == 3 }).intersection(got.map { Int($0.slot) }).count
        }
        let recall = Double(hits) / Double(queries.count * 10)
        #expect(recall >= 0.95, "1/\(every) filter, \(plan): recall@10 = \(recall)")
    }

    @Test func filterPlanFollowsSelectivity() {
        #expect(FilterPlan.choose(count: 1_000_000, selectivity: 0.01) == .filterFirst)
        #expect(FilterPlan.choose(count: 1_000_000, selectivity: 0.1) == .widened(10))
        #expect(FilterPlan.choose(count: 10_000, selectivity: 0.3) == .filterFirst)  // 3,000 matches: scan them
        #expect(FilterPlan.choose(count: 1_000_000, selectivity: 0.5) == .widened(2))
        #expect(abs(FilterPlan.selectivity(count: 100_000) { $0 % 100 == 0 } - 0.01) < 0.006)
        #expect(FilterPlan.selectivity(count: 100_000) { _ in false } > 0)
    }

    @Test func buildsAreReproducible() {
        let base = data(300, 8, seed: 6)
        var a = HNSWIndex(metric: .cosine, dimension: 8), b = HNSWIndex(metric: .cosine, dimension: 8)
        for v in base { a.add(v); b.add(v) }
        #expect(a.links0 == b.links0 && a.levels == b.levels)
    }
}

@Suite struct HNSWSerializationTests {
    @Test func roundTripsByteForByte() throws {
        var rng = SplitMix64(seed: 9)
        var index = HNSWIndex(metric: .cosine, dimension: 24, parameters: .init(m: 8, efConstruction: 60))
        let data = (0..<800).map { _ in (0..<24).map { _ in Float(rng.nextUnit() - 0.5) } }
        for v in data { index.add(v) }
        let bytes = index.serialized()
        let loaded = try HNSWIndex(serialized: bytes)
        #expect(loaded.serialized() == bytes)
        for q in data.prefix(20) { #expect(loaded.search(q, k: 5, ef: 40) == index.search(q, k: 5, ef: 40)) }
        // It can keep growing after loading, exactly as the original would.
        var a = index, b = loaded
        a.add(data[0].map { $0 * 2 })
        b.add(data[0].map { $0 * 2 })
        #expect(a.serialized() == b.serialized())
    }

    /// The compact form segments store (Rice-coded layer 0): under 60 % of
    /// the flat graph, the same graph once opened (every list, as a set),
    /// the same flat form once expanded, and damage refused, never trapped on.
    @Test func theCompactGraphIsTheSameGraphInLessSpace() throws {
        var rng = SplitMix64(seed: 11)
        let n = 3_000, dim = 16
        let rows = (0..<n).map { _ in (0..<dim).map { _ in Float(rng.nextUnit() - 0.5) } }
        let index = HNSWIndex.build(vectors: rows.flatMap { $0 }, metric: .euclidean, dimension: dim, threads: 1)
        let compact = index.serialized(includingVectors: false)
        let flat = try HNSWIndex.mappable(compact)
        #expect(Array(compact.prefix(8)) == Array("PXHNSW03".utf8) && Array(flat.prefix(8)) == Array("PXHNSW02".utf8))
        #expect(Double(compact.count) < 0.6 * Double(flat.count), "compact \(compact.count) bytes, flat \(flat.count)")
        #expect(try HNSWIndex.mappable(flat) == flat)
        let opened = try HNSWIndex(serialized: compact, vectors: rows.flatMap { $0 })
        let reopened = try HNSWIndex(serialized: flat, vectors: rows.flatMap { $0 })
        for node in 0..<Int32(n) {
            for level in 0...Int(index.levels[Int(node)]) {
                let want = Set(index.neighbors(node, level: level))
                #expect(Set(opened.neighbors(node, level: level)) == want && Set(reopened.neighbors(node, level: level)) == want)
            }
        }
        #expect(opened.serialized(includingVectors: false) == compact)
        for q in rows.prefix(20) { #expect(Set(opened.search(q, k: 5, ef: 40).map(\.slot)) == Set(index.search(q, k: 5, ef: 40).map(\.slot))) }
        // Cut short, extended, or with bits flipped in the link stream: refused or a valid graph, never a trap.
        let vectors = rows.flatMap { $0 }
        #expect(throws: FormatError.self) { try HNSWIndex(serialized: Array(compact.prefix(compact.count - 8)), vectors: vectors) }
        #expect(throws: FormatError.self) { try HNSWIndex(serialized: compact + [0, 0, 0, 0, 0, 0, 0, 0], vectors: vectors) }
        #expect(throws: FormatError.self) { try HNSWIndex.mappable(Array(compact.prefix(compact.count / 2))) }
        for at in stride(from: compact.count - 4000, to: compact.count, by: 97) {
            var damaged = compact
            damaged[at] ^= 0x5A
            if let graph = try? HNSWIndex(serialized: damaged, vectors: vectors) {
                for node in 0..<Int32(n) { #expect(graph.neighbors(node, level: 0).allSatisfy { $0 >= 0 && Int($0) < n }) }
            }
        }
    }

    @Test func rejectsDamage() {
        var index = HNSWIndex(metric: .euclidean, dimension: 4)
        for i in 0..<50 { index.add([Float(i), 1, 2, 3]) }
        let bytes = index.serialized()
        #expect(throws: FormatError.self) { try HNSWIndex(serialized: Array(bytes.prefix(bytes.count - 3))) }
        #expect(throws: FormatError.self) { try HNSWIndex(serialized: Array("PXHNSW02".utf8) + bytes.dropFirst(8)) }
        #expect(throws: FormatError.self) { try HNSWIndex(serialized: bytes + [0]) }
        #expect(throws: FormatError.self) { try HNSWIndex(serialized: []) }
    }
}

@Suite struct IVFTests {
    func data(_ n: Int, _ dim: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<30).map { _ in (0..<dim).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        var out: [Float] = []
        for i in 0..<n { out += centres[i % 30].map { $0 + Float(rng.nextUnit() - 0.5) * 0.5 } }
        return out
    }

    /// PQ's narrow subspaces find their nearest centroid sixteen at a time:
    /// the same answer as one at a time, ties to the first, any count.
    @Test func nearestCentroidSixteenAtATimeIsNearestCentroid() {
        var rng = SplitMix64(seed: 3)
        for dim in 1...KMeans.smallDimension {
            for k in [1, 5, 16, 33, 256] {
                var centroids = (0..<(k * dim)).map { _ in Float(rng.nextUnit() * 2 - 1) }
                if k > 20 { for d in 0..<dim { centroids[17 * dim + d] = centroids[3 * dim + d] } }  // a tie
                let t = KMeans.transposed(centroids, k: k, dim: dim)
                for _ in 0..<200 {
                    var v = (0..<dim).map { _ in Float(rng.nextUnit() * 2 - 1) }
                    if k > 20, rng.nextUnit() < 0.2 { v = Array(centroids[(3 * dim)..<(4 * dim)]) }
                    if rng.nextUnit() < 0.05 { v = v.map { _ in 1e30 } }  // every squared distance overflows to infinity
                    let one = centroids.withUnsafeBufferPointer { KMeans.nearest(v, $0.baseAddress!, k: k, dim: dim) }
                    let sixteen = t.withUnsafeBufferPointer { KMeans.nearest(v, transposed: $0.baseAddress!, k: k, dim: dim) }
                    #expect(one == sixteen, "dim \(dim), k \(k)")
                }
            }
        }
    }

    /// A PQ lookup table from the dimension-major books (narrow subspaces)
    /// holds what the centroid-major loop computes: every subspace width,
    /// the wide path beside it.
    @Test func lookupTablesFromDimensionMajorBooksMatchTheDirectSum() {
        var rng = SplitMix64(seed: 11)
        for sub in [1, 2, 3, KMeans.smallDimension, KMeans.smallDimension * 2] {
            let dim = sub * 4
            let books = (0..<(dim * 256)).map { _ in Float(rng.nextUnit() * 2 - 1) }
            let pq = ProductQuantizer(dimension: dim, subspaces: 4, codebooks: books)
            let q = (0..<dim).map { _ in Float(rng.nextUnit() * 4 - 2) }
            let table = q.withUnsafeBufferPointer { pq.lookupTable($0.baseAddress!, innerProduct: false) }
            #expect(table.count == 4 * 256)
            for s in 0..<4 {
                for c in 0..<256 {
                    var want: Float = 0
                    for d in 0..<sub {
                        let diff = q[s * sub + d] - books[(s * 256 + c) * sub + d]
                        want += diff * diff
                    }
                    #expect(abs(table[s * 256 + c] - want) <= 1e-5 * max(1, want), "sub \(sub), subspace \(s), centroid \(c)")
                }
            }
        }
    }

    /// k-means++ draws each next seed in proportion to its distance from
    /// the seeds so far: over tight, far-apart clusters every cluster gets
    /// one seed (a uniform draw of 16 from 16 would almost never do that),
    /// through the narrow path (PQ's subspaces) and the general one, with
    /// counts that leave a partial block of sixteen.
    @Test func seedingSpreadsOverClusters() {
        for dim in [1, 2, KMeans.smallDimension, 24] {
            for count in [16, 1000, 4099] {
                var rng = SplitMix64(seed: UInt64(dim * 10_000 + count))
                let centres: [[Float]] = (0..<16).map { c in
                    (0..<dim).map { d -> Float in
                        let corner = Float((c >> (d % 4)) & 1) * 100
                        return corner + Float(c * 37 + d)
                    }
                }
                var sample: [Float] = []
                for i in 0..<count { sample += centres[i % 16].map { $0 + Float(rng.nextUnit() - 0.5) * 0.01 } }
                var seedRNG = SplitMix64(seed: 5)
                let seeds = dim <= KMeans.smallDimension
                    ? KMeans.seedPlusPlusNarrow(sample, count: count, dim: dim, k: 16, rng: &seedRNG)
                    : KMeans.seedPlusPlus(sample, count: count, dim: dim, k: 16, rng: &seedRNG)
                func cluster(of s: Int) -> Int {
                    let seed = Array(seeds[(s * dim)..<((s + 1) * dim)])
                    let distances = centres.map { DistanceMetric.euclidean.distance(seed, $0) }
                    return distances.indices.min { distances[$0] < distances[$1] }!
                }
                let clusters = Set((0..<16).map(cluster(of:)))
                #expect(clusters.count == 16, "dim \(dim), count \(count): seeds in \(clusters.count) clusters")
            }
        }
    }

    @Test(arguments: IVFIndex.Codes.allCases, [DistanceMetric.cosine, .euclidean, .dotProduct])
    func recallAgainstExactSearch(_ codes: IVFIndex.Codes, _ metric: DistanceMetric) {
        let dim = 32, n = 4000
        let base = data(n, dim, seed: 1)
        let index = IVFIndex(vectors: base, count: n, metric: metric, dimension: dim, parameters: .init(nLists: 40, codes: codes))
        #expect(index.listOffsets.last == n && Set(index.ids).count == n)
        let queries = data(40, dim, seed: 2)
        var hits = 0
        for qi in 0..<40 {
            let q = Array(queries[(qi * dim)..<((qi + 1) * dim)])
            let exact = (0..<n).map { ($0, metric.distance(q, Array(base[($0 * dim)..<(($0 + 1) * dim)]))) }.sorted { $0.1 < $1.1 }.prefix(10).map(\.0)
            hits += Set(exact).intersection(index.search(q, k: 10, nProbes: 10, rerank: codes == .pq || codes == .rabitq ? 20 : 8).map(\.slot)).count
        }
        let recall = Double(hits) / 400
        #expect(recall >= 0.95, "\(codes) \(metric): recall@10 = \(recall)")
        if codes == .sq8 {
            // Codes are exactly a quarter of float32; a 4-byte row id and the shared centroids come on top.
            #expect(index.codes.count == n * dim)
            #expect(index.searchBytesPerVector <= Double(dim + 4) + 2)
        }
        if codes == .pq { #expect(index.codes.count * 16 <= n * dim * 4) }  // ≤ 1/16 of float32
    }

    /// The binary codes' rotation is orthonormal, and their estimate of an
    /// inner product is close enough to rank by; rows are ≤ 1/16 of float32
    /// from 128 dimensions up (below that the three factors dominate).
    @Test func binaryCodesEstimateInnerProducts() {
        for dim in [128, 384, 768, 1536] { #expect(BinaryQuantizer(dimension: dim, seed: 1).rowBytes * 16 <= dim * 4, "\(dim)") }
        let dim = 384
        let bq = BinaryQuantizer(dimension: dim, seed: 5)
        var rng = SplitMix64(seed: 11)
        func vector() -> [Float] { (0..<dim).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        let zeros = [Float](repeating: 0, count: bq.paddedDimension)
        var errors: [Float] = []
        for _ in 0..<200 {
            let r = vector(), q = vector()
            var rr = zeros, rq = zeros
            rr.withUnsafeMutableBufferPointer { bq.rotate(r, into: $0.baseAddress!) }
            rq.withUnsafeMutableBufferPointer { bq.rotate(q, into: $0.baseAddress!) }
            let dot = zip(r, q).reduce(Float(0)) { $0 + $1.0 * $1.1 }, rotatedDot = zip(rr, rq).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            let norm = r.reduce(Float(0)) { $0 + $1 * $1 }, rotatedNorm = rr.reduce(Float(0)) { $0 + $1 * $1 }
            #expect(abs(dot - rotatedDot) < 1e-3 * norm && abs(norm - rotatedNorm) < 1e-3 * norm)
            // Centroid at the origin: the estimate is ⟨r, q⟩.
            var row = [UInt8](repeating: 0, count: bq.rowBytes)
            row.withUnsafeMutableBufferPointer { bq.encode(residual: r, rotatedCentroid: zeros, extra: norm, into: $0.baseAddress!) }
            let table = rq.withUnsafeBufferPointer { bq.table(rotatedQuery: $0.baseAddress!) }
            let s = table.sums.withUnsafeBufferPointer { t in
                row.withUnsafeBufferPointer { BinaryQuantizer.signedProduct(t.baseAddress!, total: table.total, invRootD: table.invRootD, code: $0.baseAddress!, bytes: bq.codeBytes) }
            }
            let f = row.withUnsafeBufferPointer { BinaryQuantizer.factors($0.baseAddress!, codeBytes: bq.codeBytes) }
            #expect(f.offset == 0 && f.extra == norm)
            let qNorm = q.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            errors.append(abs(f.scale * s - dot) / (norm.squareRoot() * qNorm))
        }
        // RaBitQ's error is O(1/√D) relative to ‖r‖·‖q‖: about 0.05 at D = 512.
        let mean = errors.reduce(0, +) / Float(errors.count)
        #expect(mean < 0.06 && errors.max()! < 0.25, "mean relative error \(mean), max \(errors.max()!)")
    }

    @Test(arguments: [IVFIndex.Codes.sq8, .pq, .rabitq], [FilterPlan.filterFirst, .widened(100)])
    func onePercentFilterKeepsRecall(_ codes: IVFIndex.Codes, _ plan: FilterPlan) {
        let n = 5000, dim = 16
        let base = data(n, dim, seed: 8)
        let index = IVFIndex(vectors: base, count: n, metric: .euclidean, dimension: dim, parameters: .init(nLists: 70, codes: codes, pqSubspaces: 8))
        let rows = (0..<n).map { Array(base[($0 * dim)..<(($0 + 1) * dim)]) }
        var hits = 0
        for qi in 0..<30 {
            let q = rows[qi * 7].map { $0 + 0.01 }
            let got = index.search(q, k: 10, nProbes: 4, rerank: codes == .rabitq ? 20 : 8, accept: { $0 % 100 == 1 }, plan: plan).map(\.slot)
            let want = rows.indices.filter { $0 % 100 == 1 }.map { ($0, DistanceMetric.euclidean.distance(q, rows[$0])) }
                .sorted { $0.1 < $1.1 }.prefix(10).map(\.0)
            hits += Set(got).intersection(want).count
        }
        let recall = Double(hits) / 300
        #expect(recall >= 0.95, "\(codes) \(plan): recall@10 = \(recall)")
    }

    /// With thousands of lists, the lists to probe come from a graph over the
    /// centroids; recall holds and a stored index rebuilds the same graph.
    /// Past `KMeans.graphMinLists` rows find their centroid through a graph:
    /// nearly always the true nearest one.
    @Test func manyCentroidsAssignThroughAGraph() {
        let dim = 16, n = 12_000, k = KMeans.graphMinLists + 100
        let rows = data(n, dim, seed: 14)
        let centroids = rows.withUnsafeBufferPointer { KMeans.train($0, count: n, dimension: dim, k: k, iterations: 2) }
        #expect(centroids.count == k * dim)
        var assigned = [Int32](repeating: -1, count: n)
        KMeans.assign(rows, count: n, dim: dim, centroids: centroids, k: k, into: &assigned)
        var exact = 0
        rows.withUnsafeBufferPointer { r in
            centroids.withUnsafeBufferPointer { c in
                for i in 0..<n where KMeans.nearest(r.baseAddress! + i * dim, c.baseAddress!, k: k, dim: dim) == Int(assigned[i]) { exact += 1 }
            }
        }
        #expect(Double(exact) / Double(n) >= 0.97, "true nearest centroid for \(exact) of \(n)")
    }

    @Test func manyListsProbeThroughACentroidGraph() throws {
        let dim = 4, n = IVFIndex.centroidGraphMinLists * 2
        let base = data(n, dim, seed: 12)
        let index = IVFIndex(vectors: base, count: n, metric: .euclidean, dimension: dim, parameters: .init(nLists: IVFIndex.centroidGraphMinLists))
        #expect(index.centroidGraph != nil && index.listCount == IVFIndex.centroidGraphMinLists)
        let loaded = try IVFIndex(serialized: index.serialized())
        let rows = (0..<n).map { Array(base[($0 * dim)..<(($0 + 1) * dim)]) }
        var hits = 0
        for qi in 0..<30 {
            let q = rows[qi * 101].map { $0 + 0.02 }
            let got = index.search(q, k: 10, nProbes: 48).map(\.slot)
            #expect(loaded.search(q, k: 10, nProbes: 48).map(\.slot) == got)
            let want = rows.indices.map { ($0, DistanceMetric.euclidean.distance(q, rows[$0])) }.sorted { $0.1 < $1.1 }.prefix(10).map(\.0)
            hits += Set(got).intersection(want).count
        }
        #expect(Double(hits) / 300 >= 0.95, "recall@10 \(Double(hits) / 300)")
    }

    @Test func filtersDuringTheScan() {
        let base = data(2000, 16, seed: 3)
        let index = IVFIndex(vectors: base, count: 2000, metric: .euclidean, dimension: 16, parameters: .init(nLists: 20, codes: .sq8))
        let hits = index.search(Array(base[0..<16]), k: 5, nProbes: 20) { $0 % 100 == 7 }
        #expect(hits.count == 5 && hits.allSatisfy { $0.slot % 100 == 7 })
    }

    @Test(arguments: IVFIndex.Codes.allCases)
    func ivfSerializationRoundTrips(_ codes: IVFIndex.Codes) throws {
        let dim = 32, n = 3000
        let data = self.data(n, dim, seed: 9)
        let index = IVFIndex(vectors: data, count: n, metric: .cosine, dimension: dim, parameters: .init(nLists: 40, codes: codes, seed: 3))
        let bytes = index.serialized()
        let loaded = try IVFIndex(serialized: bytes)
        #expect(loaded.serialized() == bytes)
        let query = Array(data[0..<dim])
        #expect(loaded.search(query, k: 10, nProbes: 8).map(\.slot) == index.search(query, k: 10, nProbes: 8).map(\.slot))
        // The header alone locates every section; the prefix is all a query needs before the lists.
        let layout = try IVFIndex.layout(header: Array(bytes.prefix(192)), fileSize: bytes.count)
        #expect(layout.vectors.upperBound == bytes.count && layout.prefix.upperBound == layout.listOffsets.upperBound)
        #expect(layout.centroids.count == 40 * dim * 4)
        #expect(throws: FormatError.self) { try IVFIndex(serialized: Array(bytes.prefix(bytes.count - 4))) }
        #expect(throws: FormatError.self) { try IVFIndex(serialized: Array("PXIVF002".utf8) + bytes.dropFirst(8)) }
        #expect(throws: FormatError.self) { try IVFIndex(serialized: bytes + [0, 0, 0, 0]) }
        #expect(throws: FormatError.self) { try IVFIndex(serialized: []) }
    }
}

/// The concurrent build (`HNSWIndex.build`): as good on all cores as on one,
/// reproducible on one, and a graph extended from a kept part of another as
/// good as one built from scratch.
@Suite struct HNSWBuildTests {
    let dim = 24
    var base: [[Float]] { HNSWTests().data(6000, dim, seed: 11) }
    var queries: [[Float]] { HNSWTests().data(200, dim, seed: 12) }

    func recall(_ index: HNSWIndex, _ rows: [[Float]], metric: DistanceMetric, ef: Int = 80) -> Double {
        var hits = 0
        for q in queries {
            let got = Set(index.search(q, k: 10, ef: ef).map { Int($0.slot) })
            hits += Set(HNSWTests().exact(metric, rows, q, k: 10)).intersection(got).count
        }
        return Double(hits) / Double(queries.count * 10)
    }

    @Test(arguments: [DistanceMetric.cosine, .euclidean])
    func allCoresMatchOneThread(_ metric: DistanceMetric) {
        let rows = base
        let params = HNSWIndex.Parameters(m: 12, efConstruction: 100)
        let one = HNSWIndex.build(vectors: rows.flatMap { $0 }, metric: metric, dimension: dim, parameters: params, threads: 1)
        let many = HNSWIndex.build(vectors: rows.flatMap { $0 }, metric: metric, dimension: dim, parameters: params, threads: 8)
        #expect(one.count == rows.count && many.count == rows.count)
        // Two graphs of the same rows differ by a percent or two at a narrow width
        // whoever builds them; at a width where a sound graph is near 1, a build
        // that lost links under concurrency would show.
        let r1 = recall(one, rows, metric: metric, ef: 160), r8 = recall(many, rows, metric: metric, ef: 160)
        #expect(r1 >= 0.97 && r8 >= r1 - 0.01, "recall@10 one thread \(r1), eight \(r8)")
        // Every link points at another real node, and each list is within its bound.
        for node in 0..<many.count {
            let links = many.neighbors(Int32(node), level: 0)
            #expect(links.count <= 2 * params.m && links.allSatisfy { $0 >= 0 && Int($0) < many.count && Int($0) != node })
        }
    }

    @Test func oneThreadIsReproducible() {
        let rows = Array(base.prefix(1500)).flatMap { $0 }
        let a = HNSWIndex.build(vectors: rows, metric: .euclidean, dimension: dim, threads: 1)
        let b = HNSWIndex.build(vectors: rows, metric: .euclidean, dimension: dim, threads: 1)
        #expect(a.serialized() == b.serialized())
    }

    /// A graph with every tenth node dropped (as compaction drops deleted and
    /// superseded rows) and 2,000 new rows added: recall within 0.01 of a fresh build.
    @Test func extendedGraphMatchesAFreshBuild() {
        let rows = base
        let first = Array(rows.prefix(4000)), added = Array(rows.suffix(2000))
        let params = HNSWIndex.Parameters(m: 12, efConstruction: 100)
        // One thread: the same graphs on every run (two threads vary by about a percent from run to run).
        let old = HNSWIndex.build(vectors: first.flatMap { $0 }, metric: .euclidean, dimension: dim, parameters: params, threads: 1)
        let kept = (0..<Int32(4000)).filter { $0 % 10 != 0 }
        let merged = HNSWIndex.build(
            vectors: added.flatMap { $0 }, metric: .euclidean, dimension: dim, parameters: params, threads: 1, extending: (old, kept))
        let survivors = kept.map { first[Int($0)] } + added
        #expect(merged.count == survivors.count)
        for (slot, row) in survivors.enumerated().prefix(50) { #expect(Array(merged.storedVector(Int32(slot))) == row) }
        let fresh = HNSWIndex.build(vectors: survivors.flatMap { $0 }, metric: .euclidean, dimension: dim, parameters: params, threads: 1)
        let rm = recall(merged, survivors, metric: .euclidean), rf = recall(fresh, survivors, metric: .euclidean)
        #expect(rm >= rf - 0.01, "recall@10 merged \(rm), fresh \(rf)")
    }
}
