import ProximaCore

/// SQ8: each dimension mapped linearly onto 0…255 between its minimum and
/// maximum over the training data. A quarter of float32's memory; distances
/// are computed between the float query and the decoded codes (asymmetric).
public struct ScalarQuantizer: Sendable, Equatable {
    public let minimum: [Float]
    public let scale: [Float]

    public init(training data: UnsafeBufferPointer<Float>, count: Int, dimension dim: Int) {
        var lo = [Float](repeating: .infinity, count: dim), hi = [Float](repeating: -.infinity, count: dim)
        for i in 0..<count {
            for d in 0..<dim {
                let x = data[i * dim + d]
                lo[d] = min(lo[d], x)
                hi[d] = max(hi[d], x)
            }
        }
        minimum = lo
        scale = zip(lo, hi).map { l, h in h > l ? (h - l) / 255 : 1 }
    }

    public init(minimum: [Float], scale: [Float]) {
        self.minimum = minimum
        self.scale = scale
    }

    public func encode(_ v: UnsafePointer<Float>, into out: UnsafeMutablePointer<UInt8>) {
        for d in 0..<minimum.count {
            let q = ((v[d] - minimum[d]) / scale[d]).rounded()
            out[d] = UInt8(max(0, min(255, q)))
        }
    }

    /// Squared L2 between a float query, already shifted by `-minimum`, and a code.
    @inline(__always)
    static func squaredL2(shiftedQuery q: UnsafePointer<Float>, scale s: UnsafePointer<Float>, code c: UnsafePointer<UInt8>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            let codes = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(c + i).loadUnaligned(as: SIMD16<UInt8>.self)))
            let diff = UnsafeRawPointer(q + i).loadUnaligned(as: SIMD16<Float>.self) - codes * UnsafeRawPointer(s + i).loadUnaligned(as: SIMD16<Float>.self)
            acc += diff * diff
            i += 16
        }
        var sum = acc.sum()
        while i < n {
            let d = q[i] - Float(c[i]) * s[i]
            sum += d * d
            i += 1
        }
        return sum
    }

    /// Dot product between a float query and a decoded code: Σ q·min + Σ q·s·c.
    @inline(__always)
    static func dot(queryTimesScale qs: UnsafePointer<Float>, queryDotMinimum: Float, code c: UnsafePointer<UInt8>, _ n: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            let codes = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(c + i).loadUnaligned(as: SIMD16<UInt8>.self)))
            acc += codes * UnsafeRawPointer(qs + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var sum = acc.sum()
        while i < n {
            sum += Float(c[i]) * qs[i]
            i += 1
        }
        return sum + queryDotMinimum
    }
}
