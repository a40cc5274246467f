/// Centroids and lists drawn from a built graph, for an IVF index over the
/// same nodes that needs no k-means: a graph segment's cold route, searched
/// by ranged reads where the graph itself is not at hand (every hop of a
/// graph search would be a round trip).
///
/// The nodes of the first upper layer holding at most `4·√n` of them are the
/// centroids (HNSW's levels are a uniform sample, about `n / mᴸ` at level
/// `L`); each node goes to the nearest centroid a greedy descent from the
/// entry point and a narrow beam on that layer find. That costs a few dozen
/// distances per node, a small part of the graph's build.
extension HNSWIndex {
    public struct Route: Sendable {
        /// Row-major, in the space the graph searches (cosine: unit length).
        public var centroids: [Float]
        /// Per node, its centroid.
        public var assignment: [Int32]
    }

    /// The beam of the search for a node's centroid on their layer.
    static let routeBeam = 16

    public func route(threads: Int = BuildThreads.cores) -> Route {
        let n = count
        guard n > 0 else { return Route(centroids: [], assignment: []) }
        let target = max(1, Int(4 * Double(n).squareRoot()))
        var level = 1
        while level < maxLevel, levels.lazy.filter({ Int($0) >= level }).count > target { level += 1 }
        if level > maxLevel { level = max(maxLevel, 0) }
        var centroidOf = [Int32](repeating: -1, count: n)
        var centroids: [Float] = []
        for node in 0..<n where Int(levels[node]) >= level {
            centroidOf[node] = Int32(centroids.count / dimension)
            centroids += vectors[(node * dimension)..<((node + 1) * dimension)]
        }
        // Nodes in chunks across the build threads; each writes only its own slots.
        let assignment = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
        defer { assignment.deallocate() }
        let (graph, slots, owner, routeLevel) = (self, UnsafeSendable(assignment), centroidOf, level)
        let chunk = 4096
        BuildThreads.perform(iterations: (n + chunk - 1) / chunk, threads: threads) { c in
            graph.vectors.withUnsafeBufferPointer { v in
                let base = v.baseAddress!
                for node in (c * chunk)..<min(n, (c + 1) * chunk) {
                    if owner[node] >= 0 {
                        slots.value[node] = owner[node]
                        continue
                    }
                    let q = base + node * graph.dimension
                    var current = graph.entryPoint
                    var d = graph.distance(q, base + Int(current) * graph.dimension)
                    for l in stride(from: graph.maxLevel, to: routeLevel, by: -1) {
                        (current, d) = graph.greedy(q, from: current, distance: d, level: l)
                    }
                    // A narrow beam on the centroids' own layer: a greedy walk there stops at a local minimum
                    // often enough to cost recall (200k × 128: recall@10 0.905 greedy, 0.9995 with the beam).
                    let best = graph.searchLayer(q, entry: current, entryDistance: d, ef: Self.routeBeam, level: routeLevel, accept: nil)
                    slots.value[node] = owner[Int(best.first?.slot ?? current)]
                }
            }
        }
        return Route(centroids: centroids, assignment: Array(assignment))
    }
}

/// A buffer handed to build threads that write disjoint parts of it.
private struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
