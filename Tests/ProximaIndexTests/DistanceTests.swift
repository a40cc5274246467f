import Testing
@testable import ProximaCore
@testable import ProximaIndex

@Suite struct DistanceTests {
    func naive(_ m: DistanceMetric, _ a: [Float], _ b: [Float]) -> Double {
        let x = a.map(Double.init), y = b.map(Double.init)
        switch m {
        case .cosine:
            let dot = zip(x, y).map(*).reduce(0, +)
            return 1 - dot / ((x.map { $0 * $0 }.reduce(0, +)).squareRoot() * (y.map { $0 * $0 }.reduce(0, +)).squareRoot())
        case .euclidean: return zip(x, y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        case .dotProduct: return -zip(x, y).map(*).reduce(0, +)
        case .manhattan: return zip(x, y).map { abs($0 - $1) }.reduce(0, +)
        case .hamming: return Double(zip(x, y).filter { $0 != $1 }.count)
        case .jaccard:
            let mins = zip(x, y).map { min($0, $1) }.reduce(0, +), maxs = zip(x, y).map { max($0, $1) }.reduce(0, +)
            return maxs == 0 ? 0 : 1 - mins / maxs
        }
    }

    @Test(arguments: DistanceMetric.allCases)
    func kernelsMatchNaive(_ metric: DistanceMetric) {
        var rng = SplitMix64(seed: 20261203)
        for dim in [1, 3, 15, 16, 17, 31, 32, 33, 100, 384, 1536] {
            for _ in 0..<5 {
                let gen: () -> Float = metric.requiresBinaryVectors
                    ? { Float(Int.random(in: 0...1, using: &rng)) } : { Float.random(in: -1...1, using: &rng) }
                var a = (0..<dim).map { _ in gen() }, b = (0..<dim).map { _ in gen() }
                if metric == .cosine { a[0] = 1; b[0] = 0.5 }
                let got = Double(metric.distance(a, b)), want = naive(metric, a, b)
                #expect(abs(got - want) <= 1e-4 * max(1, abs(want)), "\(metric) dim \(dim): \(got) vs \(want)")
            }
        }
    }

    @Test func topKKeepsTheNearest() {
        var top = TopK(k: 3)
        for (slot, d) in [5.0, 1.0, 4.0, 2.0, 3.0, 0.5].enumerated() { top.insert(slot: slot, distance: Float(d)) }
        #expect(top.sorted().map(\.slot) == [5, 1, 3])
    }

    /// Rows go four to a kernel call, the rest one at a time: counts that
    /// leave a remainder, a filter, both metrics with their own kernels.
    @Test(arguments: [DistanceMetric.euclidean, .cosine])
    func flatScanMatchesSortParallelOrNot(_ metric: DistanceMetric) {
        var rng = SplitMix64(seed: 20261203)
        for (count, dim) in [(103, 8), (101, 48), (40_001, 64)] {
            let data = (0..<(count * dim)).map { _ in Float.random(in: -1...1, using: &rng) }
            let q = (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }
            let norms = (0..<count).map { i in data.withUnsafeBufferPointer { DistanceKernels.inverseNorm($0.baseAddress! + i * dim, dim) } }
            let scan = FlatScan(metric: metric, dimension: dim)
            let got = data.withUnsafeBufferPointer { p in
                norms.withUnsafeBufferPointer { n in
                    scan.search(query: q, k: 10, vectors: p.baseAddress!, inverseNorms: n.baseAddress!, count: count) { $0 % 3 != 0 }
                }
            }
            let want = (0..<count).filter { $0 % 3 != 0 }.map { i in
                (i, metric.distance(q, Array(data[(i * dim)..<((i + 1) * dim)])))
            }.sorted { $0.1 < $1.1 }.prefix(10)
            #expect(got.map(\.slot) == want.map(\.0), "\(metric) \(count)")
            for (g, w) in zip(got, want) { #expect(abs(g.distance - w.1) < 1e-4, "\(metric) \(count)") }
        }
    }
}
