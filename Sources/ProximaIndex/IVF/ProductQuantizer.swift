import CProximaKernels
import ProximaCore

/// Product quantisation (Jégou et al., 2011): the vector is cut into `m`
/// sub-vectors, each replaced by the nearest of 256 centroids learnt for its
/// subspace, so a vector costs `m` bytes. Queries are compared through
/// per-query lookup tables (asymmetric distance), then re-ranked exactly.
public struct ProductQuantizer: Sendable, Equatable {
    public let dimension: Int
    public let subspaces: Int
    /// `subspaces × 256 × subDimension` floats.
    public let codebooks: [Float]

    public var subDimension: Int { dimension / subspaces }

    /// Per subspace its 256 centroids dimension-major (`KMeans.transposed`), for encoding.
    let transposedBooks: [Float]

    /// A quantizer from stored codebooks (an index file).
    public init(dimension: Int, subspaces: Int, codebooks: [Float]) {
        precondition(subspaces >= 1 && dimension % subspaces == 0 && codebooks.count == dimension * 256)
        self.dimension = dimension
        self.subspaces = subspaces
        self.codebooks = codebooks
        let sub = dimension / subspaces
        transposedBooks = (0..<subspaces).flatMap { s in KMeans.transposed(Array(codebooks[(s * 256 * sub)..<((s + 1) * 256 * sub)]), k: 256, dim: sub) }
    }

    /// Rows codebooks are trained on at most (evenly spaced).
    public static let trainingSample = 20_000

    /// Codebooks trained by k-means per subspace, the subspaces on all cores.
    public init(training data: UnsafeBufferPointer<Float>, count: Int, dimension dim: Int, subspaces m: Int, seed: UInt64 = 7) {
        precondition(m >= 1 && dim % m == 0, "the dimension must divide into subspaces")
        let sub = dim / m
        let sampleCount = min(count, Self.trainingSample)
        let books = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * 256 * sub)
        defer { books.deallocate() }
        // Every subspace's sample in one pass over the rows (a pass per subspace missed the cache on every row).
        let stride = max(1, count / sampleCount)
        var slices = [Float](repeating: 0, count: m * sampleCount * sub)
        slices.withUnsafeMutableBufferPointer { out in
            for i in 0..<sampleCount {
                let row = data.baseAddress! + (i * stride) * dim
                for s in 0..<m { for d in 0..<sub { out[(s * sampleCount + i) * sub + d] = row[s * sub + d] } }
            }
        }
        nonisolated(unsafe) let out = books
        let samples = slices
        BuildThreads.perform(iterations: m) { s in
            let slice = samples[(s * sampleCount * sub)..<((s + 1) * sampleCount * sub)]
            var centroids = slice.withUnsafeBufferPointer {
                // One thread each: the subspaces already keep every core busy.
                KMeans.train($0, count: sampleCount, dimension: sub, k: 256, iterations: 10, samplePerCentroid: 64, seed: seed &+ UInt64(s), threads: 1)
            }
            // Fewer training points than centroids: pad by repeating (codes stay valid).
            while centroids.count < 256 * sub { centroids += centroids.prefix(min(centroids.count, 256 * sub - centroids.count)) }
            for (j, x) in centroids.enumerated() { out[s * 256 * sub + j] = x }
        }
        self.init(dimension: dim, subspaces: m, codebooks: Array(books))
    }

    public func encode(_ v: UnsafePointer<Float>, into out: UnsafeMutablePointer<UInt8>) {
        let sub = subDimension
        if sub <= KMeans.smallDimension {
            transposedBooks.withUnsafeBufferPointer { t in
                for s in 0..<subspaces {
                    out[s] = UInt8(KMeans.nearest(v + s * sub, transposed: t.baseAddress! + s * 256 * sub, k: 256, dim: sub))
                }
            }
            return
        }
        codebooks.withUnsafeBufferPointer { cb in
            for s in 0..<subspaces {
                out[s] = UInt8(KMeans.nearest(v + s * sub, cb.baseAddress! + s * 256 * sub, k: 256, dim: sub))
            }
        }
    }

    /// `subspaces × 256` partial distances for one query: squared L2, or
    /// negated dot products when `innerProduct`.
    public func lookupTable(_ q: UnsafePointer<Float>, innerProduct: Bool) -> [Float] {
        let sub = subDimension
        if !innerProduct, sub <= KMeans.smallDimension {
            // Built once per probed list (residual codes): from the dimension-major books, a vector op
            // over sixteen centroids at a time (a route's calibration spent most of its time here).
            return [Float](unsafeUninitializedCapacity: subspaces * 256) { table, initialized in
                transposedBooks.withUnsafeBufferPointer { t in
                    for s in 0..<subspaces {
                        pk_distances_transposed(q + s * sub, t.baseAddress! + s * 256 * sub, 256, sub, table.baseAddress! + s * 256)
                    }
                }
                initialized = subspaces * 256
            }
        }
        // Sub-vectors are short (a few floats): plain loops the compiler
        // vectorises beat a kernel call per codeword.
        return [Float](unsafeUninitializedCapacity: subspaces * 256) { table, initialized in
            codebooks.withUnsafeBufferPointer { cb in
                var centre = cb.baseAddress!
                var out = table.baseAddress!
                for s in 0..<subspaces {
                    let qs = q + s * sub
                    for _ in 0..<256 {
                        var acc: Float = 0
                        if innerProduct {
                            for d in 0..<sub { acc -= qs[d] * centre[d] }
                        } else {
                            for d in 0..<sub {
                                let diff = qs[d] - centre[d]
                                acc += diff * diff
                            }
                        }
                        out.pointee = acc
                        out += 1
                        centre += sub
                    }
                }
            }
            initialized = subspaces * 256
        }
    }

    /// Σ over subspaces of the table entry each code byte selects (256 entries
    /// per subspace); the binary codes sum their byte tables the same way.
    @inline(__always)
    static func distance(table: UnsafePointer<Float>, code: UnsafePointer<UInt8>, subspaces m: Int) -> Float {
        var a: Float = 0, b: Float = 0, c: Float = 0, d: Float = 0
        var s = 0
        while s + 4 <= m {
            a += table[s * 256 + Int(code[s])]
            b += table[(s + 1) * 256 + Int(code[s + 1])]
            c += table[(s + 2) * 256 + Int(code[s + 2])]
            d += table[(s + 3) * 256 + Int(code[s + 3])]
            s += 4
        }
        while s < m {
            a += table[s * 256 + Int(code[s])]
            s += 1
        }
        return (a + b) + (c + d)
    }
}
