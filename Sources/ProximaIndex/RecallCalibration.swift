import Dispatch
import ProximaCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The recall@10 an index reached at each search width (HNSW `ef`, IVF
/// probes), measured when it was built: a request's `target_recall` then
/// picks the narrowest width that reached it, instead of a guess.
///
/// The probe queries are a fixed sample of the index's own vectors, each
/// excluded from its own answers, against exact search over the same rows.
public struct RecallCalibration: Sendable, Equatable {
    public typealias Point = RecallPoint

    /// Widths ascending.
    public var points: [Point]

    public init(points: [Point]) { self.points = points.sorted { $0.width < $1.width } }

    /// The narrowest measured width whose recall reached `target`, else the widest measured.
    public func width(for target: Double) -> Int? {
        (points.first { Double($0.recall) >= target } ?? points.last)?.width
    }

    /// Recall is measured at 10.
    public static let k = 10
    /// HNSW `ef` values measured.
    public static let hnswWidths = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]

    /// Queries made near `samples` of the `count` stored vectors, and each
    /// one's true `k` nearest slots. Each query is a stored vector moved by a
    /// random offset as long as the distance to its nearest neighbour, so it
    /// is not in the index (a stored vector as its own query finds its
    /// neighbours through its own links, which flatters a graph).
    public struct Probes: Sendable {
        public var queries: [[Float]]
        public var truth: [Set<Int32>]

        /// `exact(queries, k)` gives each query's true `k` nearest slots, all
        /// queries at once (see `ExactBatch`: most of a calibration's cost).
        public init(
            count: Int, samples: Int, seed: UInt64, vector: (Int32) -> [Float], exact: ([[Float]], Int) -> [[Int32]]
        ) {
            guard count > RecallCalibration.k else {
                (queries, truth) = ([], [])
                return
            }
            var rng = SplitMix64(seed: seed ^ 0xCA11_B8A7)
            let slots = (0..<min(samples, count)).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(count)) }
            let neighbours = zip(slots, exact(slots.map(vector), 2)).map { slot, nearest in nearest.first(where: { $0 != slot }) }
            var queries: [[Float]] = []
            for (slot, other) in zip(slots, neighbours) {
                guard let other else { continue }
                let x = vector(slot)
                let gap = zip(x, vector(other)).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
                var offset = x.map { _ in RecallCalibration.gaussian(&rng) }
                let scale = gap / max(offset.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot(), .leastNormalMagnitude)
                for d in offset.indices { offset[d] = x[d] + offset[d] * scale }
                queries.append(offset)
            }
            self.queries = queries
            truth = exact(queries, RecallCalibration.k).map { Set($0) }
        }

        /// The same probes for an index over the same rows numbered otherwise
        /// (a graph's route): `order[new]` is the slot here of the row that is `new` there
        /// (as `IVFIndex.renumberedByPosition` gives it).
        public func renumbered(order: [Int32]) -> Probes {
            var newSlot = [Int32](repeating: -1, count: order.count)
            for (new, old) in order.enumerated() { newSlot[Int(old)] = Int32(new) }
            var copy = self
            copy.truth = truth.map { Set($0.map { newSlot[Int($0)] }) }
            return copy
        }
    }

    /// Measures `widths` (ascending) on `probes`; `approximate(q, width)` is
    /// the index's answer.
    public static func measure(
        probes: Probes, widths: [Int], approximate: @escaping @Sendable ([Float], Int) -> [Int32]
    ) -> RecallCalibration {
        let (queries, truth) = (probes.queries, probes.truth)
        guard !queries.isEmpty else { return RecallCalibration(points: []) }
        var points: [Point] = []
        for width in widths {
            let found = parallelMap(Array(zip(queries, truth))) { q, want in approximate(q, width).prefix(k).filter(want.contains).count }
            points.append(Point(width: width, recall: recall(found, truth)))
            if points.last!.recall >= 1 { break }  // wider cannot do better
        }
        return RecallCalibration(points: points)
    }

    /// As `measure(…approximate:)`, for an index that answers at every width
    /// from one search (`sweep(q, widths)`: one answer per width). Widths past
    /// `narrowSweep` are not measured when recall stayed the same over the
    /// last `flatWidths` narrow ones: a target above that plateau then gets
    /// the widest narrow width, which found as much.
    public static func measure(
        probes: Probes, widths: [Int], sweep: @escaping @Sendable ([Float], [Int]) -> [[Int32]]
    ) -> RecallCalibration {
        let (queries, truth) = (probes.queries, probes.truth)
        guard !queries.isEmpty else { return RecallCalibration(points: []) }
        var points: [Point] = []
        // A sweep costs what its widest width costs: the wide widths are swept only if recall
        // still rose over the last narrow ones (compressed codes cap it, often by 16 probes).
        for stage in [widths.filter { $0 <= narrowSweep }, widths.filter { $0 > narrowSweep }] where !stage.isEmpty {
            let found = parallelMap(Array(zip(queries, truth))) { q, want in sweep(q, stage).map { $0.prefix(k).filter(want.contains).count } }
            for (w, width) in stage.enumerated() {
                points.append(Point(width: width, recall: recall(found.map { $0[w] }, truth)))
                if points.last!.recall >= 1 { return RecallCalibration(points: points) }  // wider cannot do better
            }
            if points.count >= flatWidths, points.suffix(flatWidths).allSatisfy({ $0.recall == points.last!.recall }) { break }
        }
        return RecallCalibration(points: points)
    }

    /// The widths a sweep measures first (see `measure(…sweep:)`).
    static let narrowSweep = 32
    /// Narrow widths in a row with the same recall after which no wider one is measured.
    static let flatWidths = 3

    /// Recall over all probe queries, from the hits of each.
    static func recall(_ found: [Int], _ truth: [Set<Int32>]) -> Float {
        let hits = found.reduce(0, +), wanted = truth.reduce(0) { $0 + $1.count }
        return wanted == 0 ? 1 : Float(hits) / Float(wanted)
    }

    /// `transform` of each element, computed on all cores, in order.
    static func parallelMap<T: Sendable, R>(_ items: [T], _ transform: @escaping @Sendable (T) -> R) -> [R] {
        [R](unsafeUninitializedCapacity: items.count) { out, n in
            nonisolated(unsafe) let out = out
            BuildThreads.perform(iterations: items.count) { i in (out.baseAddress! + i).initialize(to: transform(items[i])) }
            n = items.count
        }
    }

    /// A standard normal deviate (Box-Muller).
    static func gaussian(_ rng: inout SplitMix64) -> Float {
        Float((-2 * log(rng.nextUnit())).squareRoot() * cos(2 * Double.pi * rng.nextUnit()))
    }
}

extension HNSWIndex {
    /// Recall@10 at `ef` from 10 to 512, on queries near `samples` of this index's vectors.
    public func calibrate(samples: Int = 64) -> RecallCalibration { calibrate(probes: calibrationProbes(samples: samples)) }

    /// Probe queries near `samples` of this index's vectors, with their true neighbours (slots are nodes).
    public func calibrationProbes(samples: Int = 64) -> RecallCalibration.Probes {
        RecallCalibration.Probes(
            count: count, samples: samples, seed: parameters.seed, vector: { Array(storedVector($0)) },
            exact: { queries, k in
                ExactBatch.nearest(queries.map(prepared), k: k, rows: vectors, dimension: dimension, metric: metric).map { $0.map { Int32($0) } }
            })
    }

    /// Recall@10 at `ef` from 10 to 512 on `probes`.
    public func calibrate(probes: RecallCalibration.Probes) -> RecallCalibration {
        RecallCalibration.measure(probes: probes, widths: RecallCalibration.hnswWidths) { q, ef in
            search(q, k: RecallCalibration.k, ef: ef).map(\.slot)
        }
    }

    /// The vector at `slot` as the index keeps it (unit length for cosine).
    public func storedVector(_ slot: Int32) -> ArraySlice<Float> { vectors[(Int(slot) * dimension)..<((Int(slot) + 1) * dimension)] }
}

extension IVFIndex {
    /// Recall@10 at 1 to 256 probes (at most every list) with `rerank`
    /// candidates per result, on queries near `samples` of this index's
    /// vectors; every width from one search per query (`searchAtWidths`).
    public func calibrate(rerank: Int, samples: Int = 64) -> RecallCalibration {
        let position = [Int](unsafeUninitializedCapacity: count) { p, n in
            for i in 0..<count { p[Int(slot(at: i))] = i }
            n = count
        }
        let probes = RecallCalibration.Probes(
            count: count, samples: samples, seed: parameters.seed,
            vector: { slot in
                let p = position[Int(slot)]
                return Array(vectors[(p * dimension)..<((p + 1) * dimension)])
            },
            exact: { queries, k in
                ExactBatch.nearest(queries.map(prepared), k: k, rows: vectors, dimension: dimension, metric: metric).map { $0.map { slot(at: $0) } }
            })
        return calibrate(rerank: rerank, probes: probes)
    }

    /// As `calibrate(rerank:samples:)`, on `probes` (in this index's slots).
    public func calibrate(rerank: Int, probes: RecallCalibration.Probes) -> RecallCalibration {
        let widths = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192].filter { $0 < listCount } + [min(listCount, 256)]
        return RecallCalibration.measure(probes: probes, widths: widths) { q, widths in
            searchAtWidths(q, k: RecallCalibration.k, widths: widths, rerank: rerank).map { $0.map { Int32($0.slot) } }
        }
    }
}
