/// The six metrics of the seed.
///
/// `distance` is the metric's own value (smaller is closer); `score` is
/// larger-is-better for every metric, so clients can sort and threshold
/// uniformly. Hamming and Jaccard take binary vectors (every component 0 or 1),
/// as in Milvus; Jaccard on them is `1 - |a ∧ b| / |a ∨ b|`.
public enum DistanceMetric: String, Sendable, CaseIterable, Codable {
    case cosine
    case euclidean
    case dotProduct = "dot_product"
    case manhattan
    case hamming
    case jaccard

    /// Accepts the seed's and common clients' spellings.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "cosine": self = .cosine
        case "euclidean", "l2": self = .euclidean
        case "dot_product", "dot", "dotproduct", "inner_product", "ip": self = .dotProduct
        case "manhattan", "l1": self = .manhattan
        case "hamming": self = .hamming
        case "jaccard": self = .jaccard
        default: return nil
        }
    }

    public var requiresBinaryVectors: Bool { self == .hamming || self == .jaccard }

    /// Score (larger is better) from distance.
    @inlinable
    public func score(fromDistance d: Float) -> Float {
        switch self {
        case .cosine, .jaccard: 1 - d
        case .dotProduct, .euclidean, .manhattan, .hamming: -d
        }
    }

    /// Distance between two vectors of `dimension` floats. `inverseNormA/B` are
    /// used by cosine only (1/‖x‖, precomputed by callers that scan many vectors).
    @inlinable
    public func distance(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dimension: Int,
        inverseNormA: Float = 1, inverseNormB: Float = 1
    ) -> Float {
        switch self {
        case .cosine:
            return 1 - DistanceKernels.dot(a, b, dimension) * inverseNormA * inverseNormB
        case .euclidean:
            return DistanceKernels.squaredL2(a, b, dimension).squareRoot()
        case .dotProduct:
            return -DistanceKernels.dot(a, b, dimension)
        case .manhattan:
            return DistanceKernels.l1(a, b, dimension)
        case .hamming:
            return DistanceKernels.mismatches(a, b, dimension)
        case .jaccard:
            let (mins, maxs) = DistanceKernels.minMaxSums(a, b, dimension)
            return maxs == 0 ? 0 : 1 - mins / maxs
        }
    }

    /// The distance indexes rank by: the metric's own, except that cosine
    /// assumes both vectors are already normalised (`1 - a·b`) and euclidean
    /// stays squared (its root only matters for the few results returned).
    @inlinable @inline(__always)
    public func rankingDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, dimension: Int) -> Float {
        switch self {
        case .cosine: return 1 - DistanceKernels.dot(a, b, dimension)
        case .euclidean: return DistanceKernels.squaredL2(a, b, dimension)
        case .dotProduct: return -DistanceKernels.dot(a, b, dimension)
        default: return distance(a, b, dimension: dimension)
        }
    }

    /// Convenience over arrays (tests, single lookups).
    public func distance(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                distance(
                    pa.baseAddress!, pb.baseAddress!, dimension: a.count,
                    inverseNormA: DistanceKernels.inverseNorm(pa.baseAddress!, a.count),
                    inverseNormB: DistanceKernels.inverseNorm(pb.baseAddress!, b.count))
            }
        }
    }
}
