import CProximaKernels
import ProximaCore

/// A stored graph (`HNSWIndex.serialized(includingVectors: false)`) searched
/// where it lies — a file mapped from the local-disk cache — with each
/// node's vector read in place from its segment's data, mapped too. Nothing
/// is copied but the upper layers (about one node in `m`), so what a search
/// costs in memory is the pages it touches, which the kernel may drop again.
///
/// The search is `HNSWIndex.search`'s: greedy descent, then a best-first
/// search of width `ef` on layer 0 where `accept` filters results, not
/// traversal. Vectors are as stored in the segment (cosine: not normalised,
/// so each distance takes the node's norm as it goes).
public struct MappedGraph: @unchecked Sendable {
    public let metric: DistanceMetric
    public let dimension: Int
    public let count: Int
    let maxLinks0: Int
    let entryPoint: Int32
    let maxLevel: Int
    /// Layer-0 links, `maxLinks0` Int32 slots per node, and their counts (UInt16); loaded unaligned.
    let links0: UnsafeRawPointer
    let counts0: UnsafeRawPointer
    /// Upper layers by node: its lists, level 1 first.
    let upper: [Int32: [[Int32]]]
    /// Per node, its float32 vector.
    let vectorOf: [UnsafePointer<Float>]
    /// What keeps the pointers valid (the mappings).
    let owners: [AnyObject]
    let visitedPool = VisitedPool()

    /// `body`: the graph's stored bytes; `vectorOf[i]`: node `i`'s vector;
    /// `owners`: the objects whose lifetime keeps both mapped.
    public init(body: UnsafeRawBufferPointer, vectorOf: [UnsafePointer<Float>], owners: [AnyObject]) throws(FormatError) {
        var p = 0
        func take(_ n: Int) throws(FormatError) -> Int {
            guard n >= 0, p + n <= body.count else { throw FormatError("the HNSW graph is truncated") }
            defer { p += n }
            return p
        }
        func u32() throws(FormatError) -> UInt32 { UInt32(littleEndian: body.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self)) }
        func u64() throws(FormatError) -> UInt64 { UInt64(littleEndian: body.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self)) }
        func align(_ a: Int) { p = (p + a - 1) / a * a }
        guard body.count >= 8, body.prefix(8).elementsEqual(HNSWIndex.graphOnlyMagic) else {
            throw FormatError("not a graph-only HNSW file")
        }
        p = 8
        let metricCode = Int(try u32())
        guard DistanceMetric.allCases.indices.contains(metricCode) else { throw FormatError("unknown metric \(metricCode)") }
        let dimension = Int(try u32()), m = Int(try u32())
        _ = try u32()  // ef_construction
        _ = try u64()  // seed
        _ = try u64()  // generator state
        let count = Int(try u64())
        let entry = Int32(bitPattern: try u32()), maxLevel = Int(Int32(bitPattern: try u32()))
        guard dimension > 0, m >= 2, count == vectorOf.count, count == 0 ? entry == -1 : (entry >= 0 && Int(entry) < count) else {
            throw FormatError("bad HNSW header")
        }
        align(64)
        let maxLinks0 = 2 * max(2, m)
        links0 = body.baseAddress! + (try take(count * maxLinks0 * 4))
        counts0 = body.baseAddress! + (try take(count * 2))
        let levels = body.baseAddress! + (try take(count))
        align(8)
        var upper: [Int32: [[Int32]]] = [:]
        for node in 0..<count {
            let level = Int(levels.load(fromByteOffset: node, as: UInt8.self))
            guard level > 0 else { continue }
            var lists: [[Int32]] = []
            for _ in 0..<level {
                let n = Int(try u32())
                guard n <= m else { throw FormatError("too many links") }
                let at = try take(n * 4)
                let list = (0..<n).map { Int32(littleEndian: body.loadUnaligned(fromByteOffset: at + $0 * 4, as: Int32.self)) }
                guard list.allSatisfy({ $0 >= 0 && Int($0) < count }) else { throw FormatError("HNSW links point outside the graph") }
                lists.append(list)
            }
            upper[Int32(node)] = lists
        }
        guard p == body.count else { throw FormatError("trailing bytes after the HNSW graph") }
        (self.metric, self.dimension, self.count, self.maxLinks0) = (DistanceMetric.allCases[metricCode], dimension, count, maxLinks0)
        (self.entryPoint, self.maxLevel, self.upper, self.vectorOf, self.owners) = (entry, maxLevel, upper, vectorOf, owners)
    }

    /// Node `node`'s vector, copied out.
    public func vector(of node: Int32) -> [Float] { Array(UnsafeBufferPointer(start: vectorOf[Int(node)], count: dimension)) }

    /// The ranking distance (as `HNSWIndex`'s: cosine `1 - cos`, euclidean squared) of node `n` to `q` (cosine: unit length).
    @inline(__always)
    func distance(_ q: UnsafePointer<Float>, _ n: Int32) -> Float {
        let v = vectorOf[Int(n)]
        switch metric {
        case .cosine: return 1 - DistanceKernels.dot(q, v, dimension) * DistanceKernels.inverseNorm(v, dimension)
        default: return metric.rankingDistance(q, v, dimension: dimension)
        }
    }

    /// Node `node`'s links on `level`; a link outside the graph (a damaged file) is dropped.
    @inline(__always)
    func forEachNeighbor(_ node: Int32, level: Int, _ body: (Int32) -> Void) {
        if level == 0 {
            let n = min(Int(counts0.loadUnaligned(fromByteOffset: Int(node) * 2, as: UInt16.self)), maxLinks0)
            let base = Int(node) * maxLinks0 * 4
            for i in 0..<n {
                let link = links0.loadUnaligned(fromByteOffset: base + i * 4, as: Int32.self)
                if link >= 0, Int(link) < count { body(link) }
            }
        } else if let lists = upper[node], level <= lists.count {
            for link in lists[level - 1] { body(link) }
        }
    }

    /// The `k` nearest nodes to `query` among those `accept` allows, in the metric's own distance, nearest first.
    public func search(_ query: [Float], k: Int, ef: Int, accept: ((Int32) -> Bool)? = nil) -> [HNSWIndex.Candidate] {
        guard entryPoint >= 0, k > 0, query.count == dimension else { return [] }
        var q = query
        if metric == .cosine {
            let inv = q.withUnsafeBufferPointer { DistanceKernels.inverseNorm($0.baseAddress!, dimension) }
            for i in q.indices { q[i] *= inv }
        }
        return q.withUnsafeBufferPointer { qp in
            let q = qp.baseAddress!
            var current = entryPoint
            var best = distance(q, current)
            for level in stride(from: maxLevel, to: 0, by: -1) {
                var changed = true
                while changed {
                    changed = false
                    forEachNeighbor(current, level: level) { n in
                        let d = distance(q, n)
                        if d < best { (best, current, changed) = (d, n, true) }
                    }
                }
            }
            return searchLayer0(q, entry: current, entryDistance: best, ef: max(ef, k), accept: accept).prefix(k).map {
                HNSWIndex.Candidate(slot: $0.slot, distance: metric == .euclidean ? max($0.distance, 0).squareRoot() : $0.distance)
            }
        }
    }

    func searchLayer0(_ q: UnsafePointer<Float>, entry: Int32, entryDistance: Float, ef: Int, accept: ((Int32) -> Bool)?) -> [HNSWIndex.Candidate] {
        let visited = visitedPool.take(count: count)
        var frontier = MinHeap(capacity: ef * 4)
        var results = MaxHeap(capacity: ef + 1)
        defer {
            visitedPool.give(visited)
            frontier.release()
            results.release()
        }
        let marks = visited.marks, tag = visited.generation
        marks[Int(entry)] = tag
        frontier.push(.init(slot: entry, distance: entryDistance))
        if accept?(entry) ?? true { results.push(.init(slot: entry, distance: entryDistance)) }
        var bound = results.count >= ef ? results.top.distance : .infinity
        while let c = frontier.pop() {
            if c.distance > bound, results.count >= ef { break }
            forEachNeighbor(c.slot, level: 0) { n in
                guard marks[Int(n)] != tag else { return }
                marks[Int(n)] = tag
                let d = distance(q, n)
                guard results.count < ef || d < bound else { return }
                frontier.push(.init(slot: n, distance: d))
                if accept?(n) ?? true {
                    results.push(.init(slot: n, distance: d))
                    if results.count > ef { _ = results.pop() }
                }
                if results.count >= ef { bound = results.top.distance }
            }
        }
        return results.drainNearestFirst()
    }
}
