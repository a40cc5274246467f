import Dispatch
import ProximaCore

/// Exact nearest-neighbour search over a contiguous block of vectors: the
/// oracle every approximate index is measured against.
///
/// Storage-agnostic: the caller lends a pointer to `count × dimension` floats
/// (row-major) and, for cosine, their inverse norms. `accept` filters slots
/// during the scan (deleted, expired, failing the metadata filter), so a
/// filter never costs recall.
public struct FlatScan: Sendable {
    public let metric: DistanceMetric
    public let dimension: Int

    public init(metric: DistanceMetric, dimension: Int) {
        self.metric = metric
        self.dimension = dimension
    }

    /// Rows per parallel chunk; below two chunks' worth the scan stays on one thread.
    public static let parallelChunkFloats = 1 << 20

    public func search(
        query: [Float], k: Int, vectors: UnsafePointer<Float>, inverseNorms: UnsafePointer<Float>?, count: Int,
        accept: (Int) -> Bool
    ) -> [TopK.Candidate] {
        precondition(query.count == dimension)
        guard k > 0, count > 0 else { return [] }
        return query.withUnsafeBufferPointer { q in
            let qp = q.baseAddress!
            let qInv = DistanceKernels.inverseNorm(qp, dimension)
            let rowsPerChunk = max(1024, Self.parallelChunkFloats / max(dimension, 1))
            if count < 2 * rowsPerChunk {
                var top = TopK(k: k)
                scan(qp, qInv, 0..<count, vectors, inverseNorms, accept, &top)
                return finish(top)
            }
            let chunks = (count + rowsPerChunk - 1) / rowsPerChunk
            let partial = UnsafeMutableBufferPointer<TopK>.allocate(capacity: chunks)
            defer { partial.deinitialize().deallocate() }
            _ = partial.initialize(repeating: TopK(k: k))
            withoutActuallyEscaping(accept) { accept in
                // Chunks write disjoint slots of `partial`; `accept` is only read.
                nonisolated(unsafe) let accept = accept
                nonisolated(unsafe) let partialBase = partial.baseAddress!
                nonisolated(unsafe) let vectors = vectors, inverseNorms = inverseNorms, qp = qp
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    let range = (c * rowsPerChunk)..<min(count, (c + 1) * rowsPerChunk)
                    scan(qp, qInv, range, vectors, inverseNorms, accept, &partialBase[c])
                }
            }
            var top = TopK(k: k)
            for p in partial { top.merge(p) }
            return finish(top)
        }
    }

    /// Nearest first, in the metric's own distance (euclidean ranks by its square).
    private func finish(_ top: TopK) -> [TopK.Candidate] {
        let sorted = top.sorted()
        guard metric == .euclidean else { return sorted }
        return sorted.map { TopK.Candidate(slot: $0.slot, distance: $0.distance.squareRoot()) }
    }

    @inline(__always)
    private func scan(
        _ q: UnsafePointer<Float>, _ qInv: Float, _ range: Range<Int>, _ vectors: UnsafePointer<Float>,
        _ inverseNorms: UnsafePointer<Float>?, _ accept: (Int) -> Bool, _ top: inout TopK
    ) {
        let dim = dimension
        switch metric {
        case .cosine:
            let norms = inverseNorms!
            for slot in range {
                let d = 1 - DistanceKernels.dot(q, vectors + slot * dim, dim) * qInv * norms[slot]
                if top.accepts(d), accept(slot) { top.insert(slot: slot, distance: d) }
            }
        case .euclidean:
            // Rank by squared distance; take the root only for the kept few.
            for slot in range {
                let d = DistanceKernels.squaredL2(q, vectors + slot * dim, dim)
                if top.accepts(d), accept(slot) { top.insert(slot: slot, distance: d) }
            }
        default:
            for slot in range {
                let d = metric.distance(q, vectors + slot * dim, dimension: dim)
                if top.accepts(d), accept(slot) { top.insert(slot: slot, distance: d) }
            }
        }
    }
}

