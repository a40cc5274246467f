import CProximaKernels
import ProximaCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hierarchical Navigable Small World graph (Malkov & Yashunin, 2016), for
/// vectors resident in memory: the same algorithm as hnswlib — greedy descent
/// through the upper layers, a best-first search of width `ef` on layer 0,
/// and the diversity heuristic when choosing neighbours.
///
/// Ids are dense `Int32` slots (the caller maps its own ids). Cosine vectors
/// are normalised on insert so every metric reduces to a cheap kernel:
/// `1 - a·b` for cosine, `‖a-b‖²` for euclidean (the root is taken on output).
/// Not thread-safe for writes; searches on a frozen index may run in parallel.
public struct HNSWIndex: Sendable {
    public struct Parameters: Sendable, Equatable {
        /// Links per node on the upper layers (layer 0 keeps 2m).
        public var m: Int
        public var efConstruction: Int
        public var seed: UInt64
        public init(m: Int = 16, efConstruction: Int = 200, seed: UInt64 = 42) {
            self.m = max(2, m)
            self.efConstruction = max(efConstruction, self.m)
            self.seed = seed
        }
    }

    public let metric: DistanceMetric
    public let dimension: Int
    public let parameters: Parameters
    var vectors: [Float] = []
    /// Layer-0 links: `maxLinks0` slots per node, then the count in `counts0`.
    var links0: [Int32] = []
    var counts0: [UInt16] = []
    /// Upper layers: per node, per level ≥ 1, its links.
    var upper: [[[Int32]]] = []
    var levels: [UInt8] = []
    var entryPoint: Int32 = -1
    var maxLevel = -1
    var rng: SplitMix64

    var maxLinks0: Int { parameters.m * 2 }
    /// Visited marks reused across searches (shared by copies; thread-safe).
    let visitedPool = VisitedPool()
    let levelMultiplier: Double

    public var count: Int { levels.count }

    /// The nodes' vectors, row-major in node order, as the graph searches
    /// them (cosine: scaled to unit length). Shared, not copied.
    public var nodeVectors: [Float] { vectors }

    public init(metric: DistanceMetric, dimension: Int, parameters: Parameters = Parameters()) {
        self.metric = metric
        self.dimension = dimension
        self.parameters = parameters
        self.rng = SplitMix64(seed: parameters.seed)
        self.levelMultiplier = 1 / log(Double(max(parameters.m, 2)))
    }

    // MARK: distance

    @inline(__always)
    func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
        metric.rankingDistance(a, b, dimension: dimension)
    }

    /// Converts the internal ranking distance to the metric's own value.
    @inline(__always)
    func outputDistance(_ d: Float) -> Float { metric == .euclidean ? max(d, 0).squareRoot() : d }

    func prepared(_ v: [Float]) -> [Float] {
        guard metric == .cosine else { return v }
        let inv = v.withUnsafeBufferPointer { DistanceKernels.inverseNorm($0.baseAddress!, dimension) }
        return v.map { $0 * inv }
    }

    // MARK: build

    /// Adds a vector; returns its slot.
    @discardableResult
    public mutating func add(_ vector: [Float]) -> Int32 {
        precondition(vector.count == dimension, "vector of the wrong dimension")
        let v = prepared(vector)
        let slot = Int32(levels.count)
        let level = min(Int(-log(max(rng.nextUnit(), 1e-12)) * levelMultiplier), 32)
        vectors.append(contentsOf: v)
        links0.append(contentsOf: repeatElement(-1, count: maxLinks0))
        counts0.append(0)
        levels.append(UInt8(level))
        upper.append(level > 0 ? Array(repeating: [], count: level) : [])
        guard entryPoint >= 0 else {
            entryPoint = slot
            maxLevel = level
            return slot
        }
        var current = entryPoint
        let query = v
        query.withUnsafeBufferPointer { qp in
            let q = qp.baseAddress!
            var currentDistance = vectors.withUnsafeBufferPointer { distance(q, $0.baseAddress! + Int(current) * dimension) }
            if maxLevel > level {
                for l in stride(from: maxLevel, to: level, by: -1) {
                    (current, currentDistance) = greedy(q, from: current, distance: currentDistance, level: l)
                }
            }
            for l in stride(from: min(level, maxLevel), through: 0, by: -1) {
                let candidates = searchLayer(q, entry: current, entryDistance: currentDistance, ef: parameters.efConstruction, level: l, accept: nil)
                let chosen = selectNeighbors(candidates, limit: l == 0 ? maxLinks0 : parameters.m)
                setLinks(slot, level: l, chosen.map(\.slot))
                for neighbor in chosen { link(neighbor.slot, to: slot, distance: neighbor.distance, level: l) }
                if let best = candidates.first { current = best.slot; currentDistance = best.distance }
            }
        }
        if level > maxLevel {
            maxLevel = level
            entryPoint = slot
        }
        return slot
    }

    @inline(__always)
    func neighbors(_ node: Int32, level: Int) -> ArraySlice<Int32> {
        if level == 0 {
            let start = Int(node) * maxLinks0
            return links0[start..<(start + Int(counts0[Int(node)]))]
        }
        return upper[Int(node)][level - 1][...]
    }

    mutating func setLinks(_ node: Int32, level: Int, _ list: [Int32]) {
        if level == 0 {
            let start = Int(node) * maxLinks0
            for (i, n) in list.enumerated() { links0[start + i] = n }
            counts0[Int(node)] = UInt16(list.count)
        } else {
            upper[Int(node)][level - 1] = list
        }
    }

    /// Adds `new` to `node`'s links, pruning with the heuristic when full.
    mutating func link(_ node: Int32, to new: Int32, distance d: Float, level: Int) {
        let limit = level == 0 ? maxLinks0 : parameters.m
        let current = Array(neighbors(node, level: level))
        if current.count < limit {
            setLinks(node, level: level, current + [new])
            return
        }
        let base = Int(node) * dimension
        var candidates = [Candidate(slot: new, distance: d)]
        vectors.withUnsafeBufferPointer { v in
            let p = v.baseAddress! + base
            for n in current { candidates.append(Candidate(slot: n, distance: distance(p, v.baseAddress! + Int(n) * dimension))) }
        }
        candidates.sort { $0.distance < $1.distance }
        setLinks(node, level: level, selectNeighbors(candidates, limit: limit).map(\.slot))
    }

    /// hnswlib's heuristic: keep a candidate only if it is closer to the base
    /// than to every neighbour already kept (diversity), nearest first.
    func selectNeighbors(_ sorted: [Candidate], limit: Int) -> [Candidate] {
        guard sorted.count > limit else { return sorted }
        var kept: [Candidate] = []
        kept.reserveCapacity(limit)
        vectors.withUnsafeBufferPointer { v in
            let base = v.baseAddress!
            for c in sorted {
                if kept.count >= limit { break }
                let cp = base + Int(c.slot) * dimension
                var good = true
                for k in kept where distance(cp, base + Int(k.slot) * dimension) < c.distance {
                    good = false
                    break
                }
                if good { kept.append(c) }
            }
        }
        return kept
    }

    // MARK: search

    public struct Candidate: Sendable, Equatable {
        public var slot: Int32
        public var distance: Float
    }

    func greedy(_ q: UnsafePointer<Float>, from start: Int32, distance startDistance: Float, level: Int) -> (Int32, Float) {
        var current = start, best = startDistance
        vectors.withUnsafeBufferPointer { v in
            var changed = true
            while changed {
                changed = false
                for n in neighbors(current, level: level) {
                    let d = distance(q, v.baseAddress! + Int(n) * dimension)
                    if d < best {
                        best = d
                        current = n
                        changed = true
                    }
                }
            }
        }
        return (current, best)
    }

    /// Best-first search of width `ef` on one layer; results nearest first.
    /// `accept` filters what may be returned (not what may be traversed), so a
    /// selective filter does not disconnect the graph.
    func searchLayer(
        _ q: UnsafePointer<Float>, entry: Int32, entryDistance: Float, ef: Int, level: Int, accept: ((Int32) -> Bool)?
    ) -> [Candidate] {
        // One specialised loop per kernel: the distance inlines into the hot loop.
        switch metric {
        case .cosine: return searchLayer(q, entry, entryDistance, ef, level, accept, CosineKernel())
        case .euclidean: return searchLayer(q, entry, entryDistance, ef, level, accept, SquaredL2Kernel())
        case .dotProduct: return searchLayer(q, entry, entryDistance, ef, level, accept, DotKernel())
        default: return searchLayer(q, entry, entryDistance, ef, level, accept, MetricKernel(metric: metric))
        }
    }

    @inline(__always)
    func searchLayer<K: HNSWKernel>(
        _ q: UnsafePointer<Float>, _ entry: Int32, _ entryDistance: Float, _ ef: Int, _ level: Int, _ accept: ((Int32) -> Bool)?,
        _ kernel: K
    ) -> [Candidate] {
        let visited = visitedPool.take(count: count)
        var frontier = MinHeap(capacity: ef * 4)  // candidates to expand, nearest first
        var results = MaxHeap(capacity: ef + 1)  // best accepted so far, worst on top
        defer {
            visitedPool.give(visited)
            frontier.release()
            results.release()
        }
        let marks = visited.marks, tag = visited.generation
        marks[Int(entry)] = tag
        frontier.push(Candidate(slot: entry, distance: entryDistance))
        if accept?(entry) ?? true { results.push(Candidate(slot: entry, distance: entryDistance)) }
        var bound = results.count >= ef ? results.top.distance : .infinity
        let dim = dimension, width = maxLinks0
        vectors.withUnsafeBufferPointer { v in
            links0.withUnsafeBufferPointer { l0 in
                counts0.withUnsafeBufferPointer { c0 in
                    withUnsafeTemporaryAllocation(of: Int32.self, capacity: width) { fresh in
                        let base = v.baseAddress!, links = l0.baseAddress!
                        while let c = frontier.pop() {
                            if c.distance > bound, results.count >= ef { break }
                            // First pass: the unvisited neighbours, marking them and
                            // prefetching their vectors; the distances follow once the
                            // loads are under way (hnswlib overlaps them the same way).
                            var found = 0
                            if level == 0 {
                                let list = links + Int(c.slot) * width
                                if frontier.count > 0 { pk_prefetch(links + Int(frontier.top.slot) * width) }
                                for i in 0..<Int(c0[Int(c.slot)]) {
                                    let n = list[i]
                                    if marks[Int(n)] != tag {
                                        marks[Int(n)] = tag
                                        pk_prefetch(base + Int(n) * dim)
                                        fresh[found] = n
                                        found += 1
                                    }
                                }
                            } else {
                                for n in upper[Int(c.slot)][level - 1] where marks[Int(n)] != tag {
                                    marks[Int(n)] = tag
                                    fresh[found] = n
                                    found += 1
                                }
                            }
                            @inline(__always) func consider(_ n: Int32, _ d: Float) {
                                if results.count < ef || d < bound {
                                    frontier.push(Candidate(slot: n, distance: d))
                                    if accept?(n) ?? true {
                                        results.push(Candidate(slot: n, distance: d))
                                        if results.count > ef { _ = results.pop() }
                                    }
                                    if results.count >= ef { bound = results.top.distance }
                                }
                            }
                            // Four distances at a time share the query's loads.
                            var i = 0
                            while i + 4 <= found {
                                let d = kernel.distance4(
                                    q, base + Int(fresh[i]) * dim, base + Int(fresh[i + 1]) * dim, base + Int(fresh[i + 2]) * dim,
                                    base + Int(fresh[i + 3]) * dim, dim)
                                for j in 0..<4 { consider(fresh[i + j], d[j]) }
                                i += 4
                            }
                            while i < found {
                                consider(fresh[i], kernel.distance(q, base + Int(fresh[i]) * dim, dim))
                                i += 1
                            }
                        }
                    }
                }
            }
        }
        return results.drainNearestFirst()
    }

    /// The `k` nearest slots to `query` among those `accept` allows. A
    /// filter goes through `FilterPlan`: exact over the matches when they are
    /// few, else the graph search with `ef` widened by 1/selectivity.
    public func search(_ query: [Float], k: Int, ef: Int, accept: ((Int32) -> Bool)? = nil, plan: FilterPlan? = nil) -> [Candidate] {
        guard entryPoint >= 0, k > 0 else { return [] }
        var ef = ef
        if let accept {
            switch plan ?? FilterPlan.choose(count: count, selectivity: FilterPlan.selectivity(count: count, accept: accept)) {
            case .filterFirst: return exactSearch(query, k: k, accept: accept)
            case .widened(let factor): ef = Int((Double(max(ef, k)) * factor).rounded(.up))
            }
        }
        let q = prepared(query)
        return q.withUnsafeBufferPointer { qp in
            let qptr = qp.baseAddress!
            var current = entryPoint
            var currentDistance = vectors.withUnsafeBufferPointer { distance(qptr, $0.baseAddress! + Int(current) * dimension) }
            if maxLevel > 0 {
                for l in stride(from: maxLevel, to: 0, by: -1) {
                    (current, currentDistance) = greedy(qptr, from: current, distance: currentDistance, level: l)
                }
            }
            let found = searchLayer(qptr, entry: current, entryDistance: currentDistance, ef: max(ef, k), level: 0, accept: accept)
            return found.prefix(k).map { Candidate(slot: $0.slot, distance: outputDistance($0.distance)) }
        }
    }

    /// Exact top-k over the rows `accept` keeps (the filter-first plan).
    public func exactSearch(_ query: [Float], k: Int, accept: (Int32) -> Bool) -> [Candidate] {
        let q = prepared(query)
        var top = TopK(k: k)
        q.withUnsafeBufferPointer { qp in
            vectors.withUnsafeBufferPointer { v in
                for i in 0..<count where accept(Int32(i)) {
                    top.insert(slot: i, distance: distance(qp.baseAddress!, v.baseAddress! + i * dimension))
                }
            }
        }
        return top.sorted().map { Candidate(slot: Int32($0.slot), distance: outputDistance($0.distance)) }
    }

    /// Bytes of vectors plus links (what `bytes_per_vector` reports).
    public var memoryBytes: Int {
        vectors.count * 4 + links0.count * 4 + counts0.count * 2 + levels.count
            + upper.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count * 4 + 16 } + 8 }
    }
}

/// Distance kernels the graph search is specialised on.
protocol HNSWKernel: Sendable {
    func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float
    /// `q` against four vectors at once.
    func distance4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
        _ n: Int
    ) -> SIMD4<Float>
}

extension HNSWKernel {
    @inline(__always) func distance4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
        _ n: Int
    ) -> SIMD4<Float> {
        SIMD4(distance(q, a, n), distance(q, b, n), distance(q, c, n), distance(q, d, n))
    }
}

struct CosineKernel: HNSWKernel {  // vectors are normalised on insert
    @inline(__always) func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float { 1 - DistanceKernels.dot(a, b, n) }
    @inline(__always) func distance4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
        _ n: Int
    ) -> SIMD4<Float> { 1 - DistanceKernels.dot4(q, a, b, c, d, n) }
}

struct SquaredL2Kernel: HNSWKernel {
    @inline(__always) func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float { DistanceKernels.squaredL2(a, b, n) }
    @inline(__always) func distance4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
        _ n: Int
    ) -> SIMD4<Float> { DistanceKernels.squaredL2x4(q, a, b, c, d, n) }
}

struct DotKernel: HNSWKernel {
    @inline(__always) func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float { -DistanceKernels.dot(a, b, n) }
    @inline(__always) func distance4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
        _ n: Int
    ) -> SIMD4<Float> { -DistanceKernels.dot4(q, a, b, c, d, n) }
}

struct MetricKernel: HNSWKernel {
    let metric: DistanceMetric
    @inline(__always) func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float { metric.distance(a, b, dimension: n) }
}
