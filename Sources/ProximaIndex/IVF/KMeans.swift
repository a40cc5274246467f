import CProximaKernels
import Dispatch
import Foundation
import ProximaCore

/// k-means for IVF coarse quantisation: k-means++ seeding, then Lloyd
/// iterations, both on a sample (the centroids of a few hundred points per
/// list are as good as those of all of them). Deterministic for a seed.
///
/// Many lists (a million rows get 4,000) would make every pass cost
/// rows × lists distances, so past `graphMinLists` the seeds are the
/// sample's first points (it is already in random order, as faiss seeds),
/// the sample is capped at `maxSample`, and each point's nearest centroid is
/// found through an HNSW graph over the centroids (a few hundred distances,
/// not thousands).
public enum KMeans {
    public static let graphMinLists = 1024
    public static let maxSample = 1 << 18
    /// Row-major `k × dim` centroids of `data` (`count × dim`, row-major).
    public static func train(
        _ data: UnsafeBufferPointer<Float>, count: Int, dimension dim: Int, k: Int, iterations: Int = 12,
        samplePerCentroid: Int = 256, seed: UInt64 = 1, threads: Int = BuildThreads.cores
    ) -> [Float] {
        precondition(k >= 1 && count >= 1)
        var rng = SplitMix64(seed: seed)
        // Sample without replacement (partial Fisher-Yates on indices).
        let sampleSize = min(count, max(k, k >= graphMinLists ? max(maxSample, 32 * k) : k * samplePerCentroid))
        var indices = Array(0..<count)
        for i in 0..<sampleSize {
            let j = i + Int(rng.next() % UInt64(count - i))
            indices.swapAt(i, j)
        }
        var sample = [Float](repeating: 0, count: sampleSize * dim)
        for s in 0..<sampleSize {
            for d in 0..<dim { sample[s * dim + d] = data[indices[s] * dim + d] }
        }
        let k = min(k, sampleSize)
        var centroids =
            if k >= graphMinLists { Array(sample[0..<(k * dim)]) }
            else if dim <= smallDimension { seedPlusPlusNarrow(sample, count: sampleSize, dim: dim, k: k, rng: &rng) }
            else { seedPlusPlus(sample, count: sampleSize, dim: dim, k: k, rng: &rng) }
        var assignment = [Int32](repeating: 0, count: sampleSize)
        for _ in 0..<iterations {
            assign(sample, count: sampleSize, dim: dim, centroids: centroids, k: k, into: &assignment, threads: threads)
            var sums = [Double](repeating: 0, count: k * dim)
            var sizes = [Int](repeating: 0, count: k)
            for s in 0..<sampleSize {
                let c = Int(assignment[s])
                sizes[c] += 1
                for d in 0..<dim { sums[c * dim + d] += Double(sample[s * dim + d]) }
            }
            for c in 0..<k {
                if sizes[c] == 0 {
                    // An empty list takes a random sample point: no dead centroids.
                    let s = Int(rng.next() % UInt64(sampleSize))
                    for d in 0..<dim { centroids[c * dim + d] = sample[s * dim + d] }
                } else {
                    for d in 0..<dim { centroids[c * dim + d] = Float(sums[c * dim + d] / Double(sizes[c])) }
                }
            }
        }
        return centroids
    }

    static func seedPlusPlus(_ sample: [Float], count: Int, dim: Int, k: Int, rng: inout SplitMix64) -> [Float] {
        var centroids = [Float](repeating: 0, count: k * dim)
        var nearest = [Float](repeating: .infinity, count: count)
        var chosen = Int(rng.next() % UInt64(count))
        sample.withUnsafeBufferPointer { s in
            for c in 0..<k {
                for d in 0..<dim { centroids[c * dim + d] = s[chosen * dim + d] }
                var total = 0.0
                centroids.withUnsafeBufferPointer { cp in
                    let centre = cp.baseAddress! + c * dim
                    for i in 0..<count {
                        let d = DistanceKernels.squaredL2(s.baseAddress! + i * dim, centre, dim)
                        if d < nearest[i] { nearest[i] = d }
                        total += Double(nearest[i])
                    }
                }
                guard total > 0 else { continue }
                var target = rng.nextUnit() * total
                chosen = count - 1
                for i in 0..<count {
                    target -= Double(nearest[i])
                    if target <= 0 { chosen = i; break }
                }
            }
        }
        return centroids
    }

    /// `seedPlusPlus` for points this narrow (PQ's subspaces: 256 centroids
    /// over 20,000 points of two dimensions, 64 times a segment), sixteen
    /// points at a time over a dimension-major copy, and the next seed found
    /// through per-block sums: a kernel call per distance made seeding most
    /// of the codebooks' training.
    static func seedPlusPlusNarrow(_ sample: [Float], count: Int, dim: Int, k: Int, rng: inout SplitMix64) -> [Float] {
        let blocks = (count + 15) / 16, stride = blocks * 16
        var columns = [Float](repeating: 0, count: dim * stride)
        for i in 0..<count { for d in 0..<dim { columns[d * stride + i] = sample[i * dim + d] } }
        // Each point's squared distance to its nearest seed so far; padding lanes stay 0, so never drawn.
        let nearest = UnsafeMutablePointer<SIMD16<Float>>.allocate(capacity: blocks)
        let blockSums = UnsafeMutablePointer<Float>.allocate(capacity: blocks)
        defer {
            nearest.deallocate()
            blockSums.deallocate()
        }
        nearest.initialize(repeating: SIMD16(repeating: .infinity), count: blocks)
        for lane in (count - (blocks - 1) * 16)..<16 { nearest[blocks - 1][lane] = 0 }
        var centroids = [Float](repeating: 0, count: k * dim)
        var centre = [Float](repeating: 0, count: dim)
        var chosen = Int(rng.next() % UInt64(count))
        columns.withUnsafeBufferPointer { cols in
            let base = UnsafeRawPointer(cols.baseAddress!)
            for c in 0..<k {
                for d in 0..<dim {
                    centre[d] = sample[chosen * dim + d]
                    centroids[c * dim + d] = centre[d]
                }
                var total = 0.0
                centre.withUnsafeBufferPointer { centre in
                    for b in 0..<blocks {
                        var acc = SIMD16<Float>()
                        for d in 0..<dim {
                            let diff = base.loadUnaligned(fromByteOffset: (d * stride + b * 16) * 4, as: SIMD16<Float>.self) - SIMD16(repeating: centre[d])
                            acc += diff * diff
                        }
                        var closest = nearest[b]
                        closest.replace(with: acc, where: acc .< closest)
                        nearest[b] = closest
                        // A tree of halves, not `sum()`'s sixteen dependent adds.
                        let eight = closest.lowHalf + closest.highHalf, four = eight.lowHalf + eight.highHalf, two = four.lowHalf + four.highHalf
                        blockSums[b] = two[0] + two[1]
                        total += Double(blockSums[b])
                    }
                }
                guard total > 0 else { continue }
                // Draw a point with probability ∝ its distance: whole blocks first, then lanes.
                var target = rng.nextUnit() * total
                chosen = count - 1
                search: for b in 0..<blocks {
                    if target > Double(blockSums[b]) {
                        target -= Double(blockSums[b])
                        continue
                    }
                    for lane in 0..<16 where b * 16 + lane < count {
                        target -= Double(nearest[b][lane])
                        if target <= 0 {
                            chosen = b * 16 + lane
                            break search
                        }
                    }
                }
            }
        }
        return centroids
    }

    /// Nearest centroid (squared L2) of every row, in parallel; through a
    /// graph over the centroids when there are `graphMinLists` or more.
    public static func assign(
        _ data: [Float], count: Int, dim: Int, centroids: [Float], k: Int, into out: inout [Int32], threads: Int = BuildThreads.cores
    ) {
        let graph = k >= graphMinLists ? centroidGraph(centroids, dimension: dim, threads: BuildThreads.cores) : nil
        let transposed = graph == nil && dim <= smallDimension ? Self.transposed(centroids, k: k, dim: dim) : []
        out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { d in
                centroids.withUnsafeBufferPointer { c in
                    transposed.withUnsafeBufferPointer { t in
                        nonisolated(unsafe) let o = o, d = d, c = c, t = t
                        let chunk = 1024
                        let work = { @Sendable (part: Int) in
                            for i in (part * chunk)..<min(count, (part + 1) * chunk) {
                                let row = d.baseAddress! + i * dim
                                if let graph {
                                    o[i] = graph.search(Array(UnsafeBufferPointer(start: row, count: dim)), k: 1, ef: graphSearchWidth).first?.slot ?? 0
                                } else if !t.isEmpty {
                                    o[i] = Int32(nearest(row, transposed: t.baseAddress!, k: k, dim: dim))
                                } else {
                                    o[i] = Int32(nearest(row, c.baseAddress!, k: k, dim: dim))
                                }
                            }
                        }
                        let parts = (count + chunk - 1) / chunk
                        // One thread: this one (a caller already running one per core), no thread started.
                        if threads == 1 {
                            for part in 0..<parts { work(part) }
                        } else {
                            BuildThreads.perform(iterations: parts, threads: threads, work)
                        }
                    }
                }
            }
        }
    }

    /// Subspaces this narrow (PQ's) are searched sixteen centroids at a time
    /// (`nearest(_:transposed:k:dim:)`): a kernel call per centroid costs more
    /// than its arithmetic.
    public static let smallDimension = 8

    /// Row-major `k × dim` centroids dimension-major (`dim × k`).
    public static func transposed(_ centroids: [Float], k: Int, dim: Int) -> [Float] {
        var t = [Float](repeating: 0, count: k * dim)
        for c in 0..<k { for d in 0..<dim { t[d * k + c] = centroids[c * dim + d] } }
        return t
    }

    /// The first nearest of `k` dimension-major centroids (`transposed`),
    /// sixteen at a time where the CPU has AVX-512 (eight with AVX2): what
    /// `nearest(_:_:k:dim:)` answers. In C, as the distance kernels are:
    /// Swift's SIMD types compile for the baseline (SSE2), a quarter as wide.
    @inline(__always)
    public static func nearest(_ v: UnsafePointer<Float>, transposed t: UnsafePointer<Float>, k: Int, dim: Int) -> Int {
        pk_nearest_transposed(v, t, k, dim)
    }

    /// The search width of a nearest-centroid lookup.
    static let graphSearchWidth = 48

    /// An HNSW graph over row-major centroids. One thread builds the same
    /// graph in every process (an index's list choice must not depend on
    /// which process opened it); training, which happens once, uses all cores.
    public static func centroidGraph(_ centroids: [Float], dimension dim: Int, threads: Int = 1) -> HNSWIndex {
        HNSWIndex.build(vectors: centroids, metric: .euclidean, dimension: dim, parameters: .init(m: 16, efConstruction: 100), threads: threads)
    }

    @inline(__always)
    public static func nearest(_ v: UnsafePointer<Float>, _ centroids: UnsafePointer<Float>, k: Int, dim: Int) -> Int {
        var best = 0
        var bestDistance = Float.infinity
        for c in 0..<k {
            let d = DistanceKernels.squaredL2(v, centroids + c * dim, dim)
            if d < bestDistance { bestDistance = d; best = c }
        }
        return best
    }
}
