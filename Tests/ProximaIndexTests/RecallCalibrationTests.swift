import Synchronization
import Testing
@testable import ProximaCore
@testable import ProximaIndex

/// Calibration made at build time predicts the recall fresh queries get at
/// the width it picks for a target.
@Suite struct RecallCalibrationTests {
    let dim = 48, n = 6000

    func data(_ count: Int, seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<40).map { _ in (0..<dim).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        return (0..<count).map { i in centres[i % 40].map { $0 + Float(rng.nextUnit() - 0.5) * 1.2 } }
    }

    func recall(_ base: [[Float]], _ queries: [[Float]], _ search: ([Float]) -> [Int]) -> Double {
        var hits = 0
        for q in queries {
            let want = base.indices.map { ($0, DistanceMetric.euclidean.distance(q, base[$0])) }.sorted { $0.1 < $1.1 }.prefix(10).map(\.0)
            hits += Set(want).intersection(search(q)).count
        }
        return Double(hits) / Double(queries.count * 10)
    }

    func checkCalibration(_ c: RecallCalibration, measured: (Int) -> Double) {
        #expect(c.points.count >= 3 && c.points.first!.recall < c.points.last!.recall, "\(c.points)")
        let loose = c.width(for: 0.8)!, tight = c.width(for: 0.98)!
        #expect(loose <= tight)
        // Fresh queries from the same distribution at the picked width: within sampling noise of the target.
        for target in [0.8, 0.95] {
            let width = c.width(for: target)!
            let got = measured(width)
            #expect(got >= target - 0.06, "target \(target): width \(width) gave \(got); \(c.points)")
        }
    }

    @Test func hnswWidthsMeetTheirTargets() {
        let all = data(n + 60, seed: 1)
        let base = Array(all.prefix(n)), queries = Array(all.suffix(60))
        var index = HNSWIndex(metric: .euclidean, dimension: dim, parameters: .init(m: 6, efConstruction: 40))
        for v in base { index.add(v) }
        let c = index.calibrate()
        checkCalibration(c) { ef in recall(base, queries) { q in index.search(q, k: 10, ef: ef).map { Int($0.slot) } } }
    }

    @Test(arguments: [IVFIndex.Codes.sq8, .rabitq])
    func ivfProbesMeetTheirTargets(_ codes: IVFIndex.Codes) {
        let all = data(n + 60, seed: 3)
        let base = Array(all.prefix(n)), queries = Array(all.suffix(60))
        let index = IVFIndex(vectors: base.flatMap { $0 }, count: n, metric: .euclidean, dimension: dim, parameters: .init(nLists: 120, codes: codes))
        let c = index.calibrate(rerank: 10)
        checkCalibration(c) { probes in recall(base, queries) { q in index.search(q, k: 10, nProbes: probes, rerank: 10).map(\.slot) } }
    }
}

/// The probes' true neighbours: one blocked pass for all queries must find
/// what each query's own scan finds, and a graph's probes renumbered for its
/// route must be the route's own exact answers.
@Suite struct CalibrationProbesTests {
    @Test(arguments: [DistanceMetric.euclidean, .cosine, .dotProduct])
    func aBlockedPassFindsEachQuerysExactNeighbours(_ metric: DistanceMetric) {
        // Rows not a whole number of blocks, queries not a whole number of groups.
        let dim = 24, count = ExactBatch.blockBytes / (dim * 4) * 3 + 17
        var rng = SplitMix64(seed: 9)
        let rows = (0..<(count * dim)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let queries = (0..<7).map { _ in (0..<dim).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        let found = rows.withUnsafeBufferPointer { ExactBatch.nearest(queries, k: 10, rows: $0.baseAddress!, count: count, dimension: dim, metric: metric) }
        #expect(found.count == queries.count)
        for (q, got) in zip(queries, found) {
            let want = rows.withUnsafeBufferPointer { r in
                q.withUnsafeBufferPointer { qp in
                    (0..<count).map { ($0, metric.rankingDistance(qp.baseAddress!, r.baseAddress! + $0 * dim, dimension: dim)) }
                }
            }.sorted { $0.1 < $1.1 }.prefix(10).map(\.0)
            #expect(got == want)
        }
    }

    @Test func aGraphsProbesRenumberedAreItsRoutesExactNeighbours() {
        let dim = 16, count = 3000
        var rng = SplitMix64(seed: 4)
        let vectors = (0..<(count * dim)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let graph = HNSWIndex.build(vectors: vectors, metric: .cosine, dimension: dim, parameters: .init(m: 8, efConstruction: 64), threads: 2)
        let probes = graph.calibrationProbes(samples: 24)
        #expect(probes.queries.count == 24 && probes.truth.allSatisfy { $0.count == RecallCalibration.k })
        let route = graph.route()
        let (ivf, order) = IVFIndex(
            vectors: graph.nodeVectors, count: count, metric: .cosine, dimension: dim,
            parameters: .init(nLists: route.centroids.count / dim, codes: .flat), assigned: (route.centroids, route.assignment)
        ).renumberedByPosition()
        #expect(order != Array(0..<Int32(count)), "the route must number its rows otherwise, or the test shows nothing")
        let renumbered = probes.renumbered(order: order)
        for (q, want) in zip(renumbered.queries, renumbered.truth) {
            // Flat codes over every list: the route's exact answer.
            let got = ivf.search(q, k: RecallCalibration.k, nProbes: ivf.listCount, rerank: 1).map { Int32($0.slot) }
            #expect(Set(got) == want)
        }
    }
}

/// Calibration sweeps every IVF width from one scan; that must be what a
/// search at each width alone answers, or the widths it picks mislead.
@Suite struct IVFSweepTests {
    @Test(arguments: [IVFIndex.Codes.flat, .sq8, .pq, .rabitq])
    func aSweepAnswersAsEachWidthAlone(_ codes: IVFIndex.Codes) {
        let dim = 16, n = 3000
        var rng = SplitMix64(seed: 11)
        let rows = (0..<(n * dim)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        for metric in [DistanceMetric.euclidean, .cosine, .dotProduct] {
            let index = IVFIndex(vectors: rows, count: n, metric: metric, dimension: dim, parameters: .init(nLists: 40, codes: codes))
            let widths = [1, 2, 3, 5, 8, 13, 40]
            for _ in 0..<10 {
                let q = (0..<dim).map { _ in Float(rng.nextUnit() * 2 - 1) }
                let swept = index.searchAtWidths(q, k: 10, widths: widths, rerank: 4)
                for (width, answer) in zip(widths, swept) {
                    #expect(answer == index.search(q, k: 10, nProbes: width, rerank: 4), "\(codes) \(metric) width \(width)")
                }
            }
        }
    }
}

/// A sweep measures the wide widths only while recall still rises over the narrow ones.
@Suite struct CalibrationSweepStagesTests {
    final class Widest: Sendable {
        let value = Mutex(0)
    }

    /// Calibrates `count` points on a line, the sweep answering each width
    /// with the exact top 10 less `missed(width)` of them; returns the points and the widest width swept.
    func calibrate(missed: @escaping @Sendable (Int) -> Int) -> (points: [RecallPoint], widest: Int) {
        let count = 500
        let widest = Widest()
        let exact: @Sendable ([Float], Int) -> [Int32] = { q, k in
            Array((0..<Int32(count)).sorted { abs(Float($0) - q[0]) < abs(Float($1) - q[0]) }.prefix(k))
        }
        let probes = RecallCalibration.Probes(
            count: count, samples: 16, seed: 5, vector: { [Float($0)] }, exact: { queries, k in queries.map { exact($0, k) } })
        let c = RecallCalibration.measure(
            probes: probes, widths: [1, 2, 4, 8, 16, 24, 32, 64, 128, 256],
            sweep: { q, widths in
                widest.value.withLock { $0 = max($0, widths.max()!) }
                return widths.map { w in Array(exact(q, 10).dropLast(missed(w))) }
            })
        return (c.points, widest.value.withLock { $0 })
    }

    @Test func aPlateauOverTheNarrowWidthsEndsTheSweep() {
        // Recall stops rising at 16 (one of ten always missed).
        let (points, widest) = calibrate { w in w >= 16 ? 1 : 3 }
        #expect(widest == 32)
        #expect(points.map(\.width) == [1, 2, 4, 8, 16, 24, 32])
        #expect(points.last!.recall == 0.9)
        #expect(RecallCalibration(points: points).width(for: 0.95) == 32)
    }

    @Test func recallStillRisingSweepsTheWideWidths() {
        let (points, widest) = calibrate { w in w >= 128 ? 0 : w >= 24 ? 1 : 2 }
        #expect(widest == 256)
        #expect(points.map(\.width) == [1, 2, 4, 8, 16, 24, 32, 64, 128])  // ends at recall 1
        #expect(points.map(\.recall) == [0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 0.9, 0.9, 1])
    }
}
