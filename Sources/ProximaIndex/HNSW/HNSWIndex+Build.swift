import CProximaKernels
import Dispatch
import ProximaCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HNSWIndex {
    /// Builds the graph over `vectors` (row-major, slot `i` is row `i`) with
    /// `threads` insertions at once, as hnswlib's `add_items` does: each node
    /// has a lock held while its link list is rewritten (searches read lists
    /// without it), and a node that raises the top level holds the graph's
    /// lock for its whole insertion. With one thread the build is
    /// reproducible for a seed.
    ///
    /// `extending` starts from an existing graph instead of an empty one
    /// (compaction merging segments): its nodes `keeping` become slots
    /// `0..<keeping.count`, in that order, linked as they were; a dropped
    /// node's place in its neighbours' lists goes to its own surviving
    /// neighbours (the repair a deleted node needs), and `vectors` are added
    /// after them.
    public static func build(
        vectors: [Float], metric: DistanceMetric, dimension: Int, parameters: Parameters = Parameters(), threads: Int,
        extending base: (graph: HNSWIndex, keeping: [Int32])? = nil
    ) -> HNSWIndex {
        precondition(vectors.count % max(dimension, 1) == 0, "vectors of the wrong dimension")
        // One builder per kernel: every distance of the build inlines into its loops.
        func build<K: HNSWKernel>(_ kernel: K) -> HNSWIndex {
            let builder = GraphBuilder(kernel: kernel, metric: metric, dimension: dimension, parameters: parameters, adding: vectors, base: base)
            builder.run(threads: threads)
            return builder.finished()
        }
        switch metric {
        case .cosine: return build(CosineKernel())
        case .euclidean: return build(SquaredL2Kernel())
        case .dotProduct: return build(DotKernel())
        default: return build(MetricKernel(metric: metric))
        }
    }
}

/// The mutable graph of a concurrent build: flat unsafe arrays sized for
/// every node up front, so no insertion ever reallocates under another.
final class GraphBuilder<K: HNSWKernel>: @unchecked Sendable {
    let kernel: K
    let metric: DistanceMetric
    let dimension: Int
    let parameters: HNSWIndex.Parameters
    let count: Int
    /// Nodes already linked when the build starts (kept from a base graph).
    let linkedAtStart: Int
    let maxLinks0: Int
    let vectors: UnsafeMutablePointer<Float>
    let links0: UnsafeMutablePointer<Int32>
    let counts0: UnsafeMutablePointer<UInt16>
    /// Upper layers, flat: node `i`'s level `l ≥ 1` list is the `m` slots at
    /// `(upperStart[i] + l - 1) * m`, its length in `upperCounts`.
    let upperStart: [Int]
    let upperLinks: UnsafeMutablePointer<Int32>
    let upperCounts: UnsafeMutablePointer<UInt16>
    let levels: [UInt8]
    let locks: UnsafeMutablePointer<UInt8>
    let visitedPool = VisitedPool()
    let next = Atomic<Int>(0)
    let top = Mutex<(entry: Int32, level: Int)>((-1, -1))
    let rngState: UInt64
    /// The construction search's width. Nodes inserted into a kept graph
    /// (compaction) search it at a third of `efConstruction`: the kept graph
    /// is already navigable, and the narrower beam costs no measured recall
    /// (`extendedGraphMatchesAFreshBuild`: 0.9795 against 0.98 at full width,
    /// fresh 0.989; at a quarter, 0.9675) while compaction runs 40 % faster
    /// (`bench/maintenance --n 300000 --waves 3`: 15.3k against 10.9k vectors/s).
    var insertionWidth: Int { linkedAtStart > 0 ? max(parameters.m * 2, parameters.efConstruction / 3) : parameters.efConstruction }

    init(
        kernel: K, metric: DistanceMetric, dimension dim: Int, parameters: HNSWIndex.Parameters, adding added: [Float],
        base: (graph: HNSWIndex, keeping: [Int32])?
    ) {
        self.kernel = kernel
        self.metric = metric
        self.dimension = dim
        self.parameters = parameters
        let kept = base?.keeping ?? []
        let addedCount = added.count / max(dim, 1)
        count = kept.count + addedCount
        linkedAtStart = kept.count
        maxLinks0 = parameters.m * 2
        // Levels: the kept nodes keep theirs; new ones are drawn from the seed
        // (continuing the base's generator), in slot order, before any thread starts.
        var rng = base.map { g in var r = SplitMix64(seed: g.graph.parameters.seed); r.state = g.graph.rng.state; return r } ?? SplitMix64(seed: parameters.seed)
        let multiplier = 1 / log(Double(max(parameters.m, 2)))
        var levels = [UInt8](repeating: 0, count: count)
        if let base { for (j, old) in kept.enumerated() { levels[j] = base.graph.levels[Int(old)] } }
        for i in kept.count..<count { levels[i] = UInt8(min(Int(-log(max(rng.nextUnit(), 1e-12)) * multiplier), 32)) }
        self.levels = levels
        rngState = rng.state
        var start = [Int](repeating: 0, count: count + 1)
        for i in 0..<count { start[i + 1] = start[i] + Int(levels[i]) }
        upperStart = start
        let upperSlots = start[count]
        vectors = .allocate(capacity: max(count * dim, 1))
        links0 = .allocate(capacity: max(count * maxLinks0, 1))
        links0.initialize(repeating: -1, count: max(count * maxLinks0, 1))
        counts0 = .allocate(capacity: max(count, 1))
        counts0.initialize(repeating: 0, count: max(count, 1))
        upperLinks = .allocate(capacity: max(upperSlots * parameters.m, 1))
        upperLinks.initialize(repeating: -1, count: max(upperSlots * parameters.m, 1))
        upperCounts = .allocate(capacity: max(upperSlots, 1))
        upperCounts.initialize(repeating: 0, count: max(upperSlots, 1))
        locks = .allocate(capacity: max(count, 1))
        locks.initialize(repeating: 0, count: max(count, 1))
        if let base {
            let g = base.graph
            g.vectors.withUnsafeBufferPointer { v in
                for (j, old) in kept.enumerated() { (vectors + j * dim).update(from: v.baseAddress! + Int(old) * dim, count: dim) }
            }
            let entry = Self.keepLinks(of: g, kept, into: self)
            top.withLock { $0 = entry }
        }
        added.withUnsafeBufferPointer { a in
            let at = vectors + kept.count * dim
            at.update(from: a.baseAddress!, count: added.count)
            if metric == .cosine {
                for i in 0..<addedCount {
                    let row = at + i * dim
                    let inv = DistanceKernels.inverseNorm(row, dim)
                    for d in 0..<dim { row[d] *= inv }
                }
            }
        }
    }

    deinit {
        vectors.deallocate()
        links0.deallocate()
        counts0.deallocate()
        upperLinks.deallocate()
        upperCounts.deallocate()
        locks.deallocate()
    }

    @inline(__always) func limit(_ level: Int) -> Int { level == 0 ? maxLinks0 : parameters.m }

    /// Node `node`'s list at `level`: its slots and its length.
    @inline(__always) func list(_ node: Int, _ level: Int) -> (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<UInt16>) {
        if level == 0 { return (links0 + node * maxLinks0, counts0 + node) }
        let at = upperStart[node] + level - 1
        return (upperLinks + at * parameters.m, upperCounts + at)
    }

    /// Copies the kept nodes' links from `g`, renumbered; where a neighbour
    /// was dropped, its own kept neighbours are candidates in its place, and
    /// the diversity heuristic picks the list again. Returns the entry point.
    static func keepLinks(of g: HNSWIndex, _ kept: [Int32], into b: GraphBuilder) -> (Int32, Int) {
        var newSlot = [Int32](repeating: -1, count: g.count)
        for (j, old) in kept.enumerated() { newSlot[Int(old)] = Int32(j) }
        let renumbered = newSlot
        BuildThreads.perform(iterations: max(1, min(kept.count, 64))) { part in
            var candidates: [HNSWIndex.Candidate] = []
            var seen = Set<Int32>()
            var j = part
            while j < kept.count {
                defer { j += 64 }
                let old = kept[j]
                for level in 0...Int(g.levels[Int(old)]) {
                    let links = g.neighbors(old, level: level)
                    if links.allSatisfy({ renumbered[Int($0)] >= 0 }) {
                        let (slots, n) = b.list(j, level)
                        for (i, o) in links.enumerated() { slots[i] = renumbered[Int(o)] }
                        n.pointee = UInt16(links.count)
                        continue
                    }
                    candidates.removeAll(keepingCapacity: true)
                    seen.removeAll(keepingCapacity: true)
                    func consider(_ o: Int32) {
                        let s = renumbered[Int(o)]
                        guard s >= 0, s != Int32(j), seen.insert(s).inserted else { return }
                        candidates.append(.init(slot: s, distance: b.distance(j, Int(s))))
                    }
                    for o in links {
                        if renumbered[Int(o)] >= 0 { consider(o) } else if Int(g.levels[Int(o)]) >= level {
                            for p in g.neighbors(o, level: level) { consider(p) }
                        }
                    }
                    candidates.sort { $0.distance < $1.distance }
                    b.setList(j, level, b.selectNeighbors(candidates, limit: b.limit(level)))
                }
            }
        }
        if g.entryPoint >= 0, newSlot[Int(g.entryPoint)] >= 0 { return (newSlot[Int(g.entryPoint)], g.maxLevel) }
        guard let highest = kept.indices.max(by: { g.levels[Int(kept[$0])] < g.levels[Int(kept[$1])] }) else { return (-1, -1) }
        return (Int32(highest), Int(g.levels[Int(kept[highest])]))
    }

    @inline(__always) func distance(_ a: Int, _ b: Int) -> Float {
        kernel.distance(vectors + a * dimension, vectors + b * dimension, dimension)
    }

    func setList(_ node: Int, _ level: Int, _ chosen: [HNSWIndex.Candidate]) {
        let (slots, n) = list(node, level)
        for (i, c) in chosen.enumerated() { slots[i] = c.slot }
        n.pointee = UInt16(chosen.count)
    }

    /// hnswlib's heuristic over candidates sorted nearest first (see `HNSWIndex.selectNeighbors`).
    func selectNeighbors(_ sorted: [HNSWIndex.Candidate], limit: Int) -> [HNSWIndex.Candidate] {
        guard sorted.count > limit else { return sorted }
        var kept: [HNSWIndex.Candidate] = []
        kept.reserveCapacity(limit)
        for c in sorted {
            if kept.count >= limit { break }
            if kept.allSatisfy({ distance(Int(c.slot), Int($0.slot)) >= c.distance }) { kept.append(c) }
        }
        return kept
    }

    // MARK: insertion

    func run(threads: Int) {
        guard count > linkedAtStart else { return }
        var first = linkedAtStart
        if top.withLock({ $0.entry }) < 0 {  // an empty graph: the first node is the entry point
            top.withLock { $0 = (Int32(first), Int(levels[first])) }
            first += 1
        }
        next.store(first, ordering: .relaxed)
        let workers = max(1, min(threads, (count - first) / 64 + 1))
        BuildThreads.perform(iterations: workers, threads: workers) { _ in
            while true {
                let node = self.next.add(1, ordering: .relaxed).oldValue
                guard node < self.count else { return }
                self.insert(node)
            }
        }
    }

    func insert(_ node: Int) {
        let level = Int(levels[node])
        let seen = top.withLock { $0 }
        if level > seen.level {
            // A new top level: no other insertion may start from the old entry meanwhile.
            top.withLock { state in
                link(node, level: level, entry: state.entry, top: state.level)
                if level > state.level { state = (Int32(node), level) }
            }
        } else {
            link(node, level: level, entry: seen.entry, top: seen.level)
        }
    }

    func link(_ node: Int, level: Int, entry: Int32, top: Int) {
        let q = vectors + node * dimension
        var current = entry
        var currentDistance = kernel.distance(q, vectors + Int(entry) * dimension, dimension)
        if top > level {
            for l in stride(from: top, to: level, by: -1) {
                var changed = true
                while changed {
                    changed = false
                    forEachLink(Int(current), l) { n in
                        let d = kernel.distance(q, vectors + Int(n) * dimension, dimension)
                        if d < currentDistance { currentDistance = d; current = n; changed = true }
                    }
                }
            }
        }
        for l in stride(from: min(level, top), through: 0, by: -1) {
            let candidates = searchLayer(q, entry: current, entryDistance: currentDistance, level: l)
            // hnswlib keeps m links for a new node on every layer; layer 0 grows to 2m through its neighbours.
            let chosen = selectNeighbors(candidates, limit: parameters.m)
            setOwnList(node, l, chosen)
            for c in chosen { addLink(Int(c.slot), to: Int32(node), distance: c.distance, level: l) }
            if let best = candidates.first { current = best.slot; currentDistance = best.distance }
        }
    }

    /// Sets a new node's list at `level`. Another insertion may have linked
    /// to it already (it is reachable through the layers above once they are
    /// linked): those links are kept with the chosen ones, not overwritten.
    func setOwnList(_ node: Int, _ level: Int, _ chosen: [HNSWIndex.Candidate]) {
        pk_spin_lock(locks + node)
        defer { pk_spin_unlock(locks + node) }
        let (slots, n) = list(node, level)
        let existing = Int(n.pointee)
        guard existing > 0 else { return setList(node, level, chosen) }
        var merged = chosen
        for i in 0..<existing where !chosen.contains(where: { $0.slot == slots[i] }) {
            merged.append(.init(slot: slots[i], distance: distance(node, Int(slots[i]))))
        }
        merged.sort { $0.distance < $1.distance }
        setList(node, level, selectNeighbors(merged, limit: limit(level)))
    }

    /// Adds `new` to `node`'s list at `level`, pruning with the heuristic when full.
    func addLink(_ node: Int, to new: Int32, distance d: Float, level: Int) {
        pk_spin_lock(locks + node)
        defer { pk_spin_unlock(locks + node) }
        let (slots, n) = list(node, level)
        let length = Int(n.pointee), cap = limit(level)
        for i in 0..<length where slots[i] == new { return }
        if length < cap {
            slots[length] = new
            n.pointee += 1
            return
        }
        var candidates = [HNSWIndex.Candidate(slot: new, distance: d)]
        candidates.reserveCapacity(length + 1)
        for i in 0..<length { candidates.append(.init(slot: slots[i], distance: distance(node, Int(slots[i])))) }
        candidates.sort { $0.distance < $1.distance }
        setList(node, level, selectNeighbors(candidates, limit: cap))
    }

    /// A node's list at `level`, read without its lock (see `pk_load_i32`): its
    /// length read once and bounded, slots never written (-1) skipped.
    @inline(__always) func forEachLink(_ node: Int, _ level: Int, _ body: (Int32) -> Void) {
        let (slots, n) = list(node, level)
        for i in 0..<min(Int(pk_load_u16(n)), limit(level)) {
            let s = pk_load_i32(slots + i)
            if s >= 0 { body(s) }
        }
    }

    /// The construction search (`efConstruction` wide), reading lists without their locks (`forEachLink`).
    func searchLayer(_ q: UnsafePointer<Float>, entry: Int32, entryDistance: Float, level: Int) -> [HNSWIndex.Candidate] {
        let ef = insertionWidth
        let visited = visitedPool.take(count: count)
        var frontier = MinHeap(capacity: ef * 4)
        var results = MaxHeap(capacity: ef + 1)
        defer {
            visitedPool.give(visited)
            frontier.release()
            results.release()
        }
        let marks = visited.marks, tag = visited.generation, dim = dimension, base = UnsafePointer(vectors)
        marks[Int(entry)] = tag
        frontier.push(.init(slot: entry, distance: entryDistance))
        results.push(.init(slot: entry, distance: entryDistance))
        var bound = Float.infinity
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: maxLinks0) { fresh in
            while let c = frontier.pop() {
                if c.distance > bound, results.count >= ef { break }
                var found = 0
                let node = Int(c.slot)
                // The next candidate's list is read after this one's distances: start loading it now
                // (its first read stalled a quarter of the build's time, as hnswlib's prefetches note).
                if frontier.count > 0 {
                    let (nextList, _) = list(Int(frontier.top.slot), level)
                    pk_prefetch(nextList)
                    pk_prefetch(nextList + 16)
                }
                forEachLink(node, level) { s in
                    if marks[Int(s)] != tag {
                        marks[Int(s)] = tag
                        // The first batch's vectors now, each later batch's while the one before is compared:
                        // prefetching every neighbour at once filled the line-fill buffers and stalled.
                        if found < 4 { pk_prefetch(base + Int(s) * dim) }
                        fresh[found] = s
                        found += 1
                    }
                }
                @inline(__always) func consider(_ s: Int32, _ d: Float) {
                    if results.count < ef || d < bound {
                        frontier.push(.init(slot: s, distance: d))
                        results.push(.init(slot: s, distance: d))
                        if results.count > ef { _ = results.pop() }
                        if results.count >= ef { bound = results.top.distance }
                    }
                }
                var i = 0
                while i + 4 <= found {
                    for j in (i + 4)..<min(i + 8, found) { pk_prefetch(base + Int(fresh[j]) * dim) }
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
        return results.drainNearestFirst()
    }

    // MARK: result

    /// The built graph as an `HNSWIndex` (its arrays copied out of the builder's).
    func finished() -> HNSWIndex {
        var index = HNSWIndex(metric: metric, dimension: dimension, parameters: parameters)
        index.vectors = Array(UnsafeBufferPointer(start: vectors, count: count * dimension))
        index.links0 = Array(UnsafeBufferPointer(start: links0, count: count * maxLinks0))
        index.counts0 = Array(UnsafeBufferPointer(start: counts0, count: count))
        index.levels = levels
        index.upper = (0..<count).map { node in
            (0..<Int(levels[node])).map { l in
                let (slots, n) = list(node, l + 1)
                return Array(UnsafeBufferPointer(start: slots, count: Int(n.pointee)))
            }
        }
        let state = top.withLock { $0 }
        index.entryPoint = count == 0 ? -1 : state.entry
        index.maxLevel = count == 0 ? -1 : state.level
        index.rng.state = rngState
        return index
    }
}
