import CProximaKernels

/// SIMD kernels over contiguous float buffers.
///
/// From 32 dimensions on, the native kernels of `CProximaKernels` (AVX-512 or
/// AVX2+FMA when the CPU has them) do the work; shorter vectors stay in Swift,
/// where a call would cost more than the arithmetic.
///
/// Loads are unaligned 16-wide vectors with two accumulators to hide add
/// latency; the tail is scalar. Multiply then add, never `addProduct`: a fused
/// multiply-add on baseline x86-64 (no FMA in the target) is a libm call per
/// lane. Every kernel is `@inlinable` so the scan loop in the caller's module
/// is specialised and vectorised with it.
public enum DistanceKernels {
    @inlinable @inline(__always)
    static func load16(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// The instruction set the native kernels use on this CPU.
    public static var instructionSet: String { String(cString: pk_instruction_set()) }

    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        if n >= 32 { return pk_dot(a, b, n) }
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= n {
            acc0 += load16(a, i) * load16(b, i)
            acc1 += load16(a, i + 16) * load16(b, i + 16)
            i += 32
        }
        if i + 16 <= n {
            acc0 += load16(a, i) * load16(b, i)
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n { sum += a[i] * b[i]; i += 1 }
        return sum
    }

    /// Dot products of `q` with four vectors at once (one query load per four products).
    @inlinable
    public static func dot4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
        _ n: Int
    ) -> SIMD4<Float> {
        if n < 32 { return SIMD4(dot(q, a, n), dot(q, b, n), dot(q, c, n), dot(q, d, n)) }
        var out = SIMD4<Float>()
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 4) { v in
            v[0] = a; v[1] = b; v[2] = c; v[3] = d
            withUnsafeMutableBytes(of: &out) { pk_dot4(q, v.baseAddress!, n, $0.baseAddress!.assumingMemoryBound(to: Float.self)) }
        }
        return out
    }

    /// Squared euclidean distances from `q` to four vectors at once.
    @inlinable
    public static func squaredL2x4(
        _ q: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ d: UnsafePointer<Float>,
        _ n: Int
    ) -> SIMD4<Float> {
        if n < 32 { return SIMD4(squaredL2(q, a, n), squaredL2(q, b, n), squaredL2(q, c, n), squaredL2(q, d, n)) }
        var out = SIMD4<Float>()
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 4) { v in
            v[0] = a; v[1] = b; v[2] = c; v[3] = d
            withUnsafeMutableBytes(of: &out) { pk_squared_l2_4(q, v.baseAddress!, n, $0.baseAddress!.assumingMemoryBound(to: Float.self)) }
        }
        return out
    }

    @inlinable
    public static func squaredL2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        if n >= 32 { return pk_squared_l2(a, b, n) }
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= n {
            let d0 = load16(a, i) - load16(b, i)
            let d1 = load16(a, i + 16) - load16(b, i + 16)
            acc0 += d0 * d0
            acc1 += d1 * d1
            i += 32
        }
        if i + 16 <= n {
            let d0 = load16(a, i) - load16(b, i)
            acc0 += d0 * d0
            i += 16
        }
        var sum = (acc0 + acc1).sum()
        while i < n { let d = a[i] - b[i]; sum += d * d; i += 1 }
        return sum
    }

    @inlinable
    public static func l1(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        if n >= 32 { return pk_l1(a, b, n) }
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = 0
        while i + 32 <= n {
            let d0 = load16(a, i) - load16(b, i)
            let d1 = load16(a, i + 16) - load16(b, i + 16)
            acc0 += d0.replacing(with: -d0, where: d0 .< 0)
            acc1 += d1.replacing(with: -d1, where: d1 .< 0)
            i += 32
        }
        var sum = (acc0 + acc1).sum()
        while i < n { sum += abs(a[i] - b[i]); i += 1 }
        return sum
    }

    /// Number of positions where the vectors differ (Hamming on 0/1 vectors).
    @inlinable
    public static func mismatches(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Int32>()
        var i = 0
        let one = SIMD16<Int32>(repeating: 1), zero = SIMD16<Int32>()
        while i + 16 <= n {
            acc &+= one.replacing(with: zero, where: load16(a, i) .== load16(b, i))
            i += 16
        }
        var count = Int(acc.wrappedSum())
        while i < n { if a[i] != b[i] { count += 1 }; i += 1 }
        return Float(count)
    }

    /// (Σ min(aᵢ, bᵢ), Σ max(aᵢ, bᵢ)): on 0/1 vectors, |a ∧ b| and |a ∨ b|.
    @inlinable
    public static func minMaxSums(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> (Float, Float) {
        var mins = SIMD16<Float>(), maxs = SIMD16<Float>()
        var i = 0
        while i + 16 <= n {
            let x = load16(a, i), y = load16(b, i)
            mins += pointwiseMin(x, y)
            maxs += pointwiseMax(x, y)
            i += 16
        }
        var lo = mins.sum(), hi = maxs.sum()
        while i < n { lo += min(a[i], b[i]); hi += max(a[i], b[i]); i += 1 }
        return (lo, hi)
    }

    /// 1/‖a‖, or 0 for the zero vector.
    @inlinable
    public static func inverseNorm(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        let sq = dot(a, a, n)
        return sq > 0 ? 1 / sq.squareRoot() : 0
    }
}
