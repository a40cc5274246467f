/// The recall@10 an index reached at each search width (HNSW `ef`, IVF
/// probes), measured when it was built: a request's `target_recall` then
/// picks the narrowest width that reached it, instead of a guess.
///
/// The probe queries are a fixed sample of the index's own vectors, each
/// excluded from its own answers, against exact search over the same rows.
public struct RecallCalibration: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public var width: Int
        public var recall: Float
        public init(width: Int, recall: Float) {
            self.width = width
            self.recall = recall
        }
    }

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

    /// Measures `widths` (ascending) on up to `samples` of `count` slots.
    /// `exact(slot)` gives the true `k` nearest other slots; `approximate(slot,
    /// width)` the index's answer (it may include `slot` itself, which is dropped).
    public static func measure(
        count: Int, samples: Int, widths: [Int], seed: UInt64, exact: (Int32) -> [Int32], approximate: (Int32, Int) -> [Int32]
    ) -> RecallCalibration {
        guard count > k else { return RecallCalibration(points: []) }
        var rng = SplitMix64(seed: seed ^ 0xCA11_B8A7)
        let picked = (0..<min(samples, count)).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(count)) }
        let truth = picked.map { Set(exact($0)) }
        var points: [Point] = []
        for width in widths {
            var hits = 0, wanted = 0
            for (slot, want) in zip(picked, truth) {
                let got = approximate(slot, width).lazy.filter { $0 != slot }.prefix(k)
                hits += got.filter(want.contains).count
                wanted += want.count
            }
            let recall = wanted == 0 ? 1 : Float(hits) / Float(wanted)
            points.append(Point(width: width, recall: recall))
            if recall >= 1 { break }  // wider cannot do better
        }
        return RecallCalibration(points: points)
    }
}

extension HNSWIndex {
    /// Recall@10 at `ef` from 10 to 512 on `samples` of this index's vectors.
    public func calibrate(samples: Int = 64) -> RecallCalibration {
        let k = RecallCalibration.k
        return RecallCalibration.measure(
            count: count, samples: samples, widths: RecallCalibration.hnswWidths, seed: parameters.seed,
            exact: { slot in exactSearch(Array(storedVector(slot)), k: k, accept: { $0 != slot }).map(\.slot) },
            approximate: { slot, ef in search(Array(storedVector(slot)), k: k + 1, ef: ef).map(\.slot) })
    }

    /// The vector at `slot` as the index keeps it (unit length for cosine).
    public func storedVector(_ slot: Int32) -> ArraySlice<Float> { vectors[(Int(slot) * dimension)..<((Int(slot) + 1) * dimension)] }
}

extension IVFIndex {
    /// Recall@10 at 1 to 256 probes (at most every list) with `rerank`
    /// candidates per result, on `samples` of this index's vectors.
    public func calibrate(rerank: Int, samples: Int = 64) -> RecallCalibration {
        let k = RecallCalibration.k
        let position = [Int](unsafeUninitializedCapacity: count) { p, n in
            for i in 0..<count { p[Int(slot(at: i))] = i }
            n = count
        }
        let stored = { (slot: Int32) in
            let p = position[Int(slot)]
            return Array(vectors[(p * dimension)..<((p + 1) * dimension)])
        }
        let widths = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256].filter { $0 < listCount } + [min(listCount, 256)]
        return RecallCalibration.measure(
            count: count, samples: samples, widths: widths, seed: parameters.seed,
            exact: { slot in
                let q = stored(slot)
                var top = TopK(k: k)
                q.withUnsafeBufferPointer { qp in
                    vectors.withUnsafeBufferPointer { v in
                        for p in 0..<count where self.slot(at: p) != slot {
                            top.insert(slot: Int(self.slot(at: p)), distance: exactDistance(qp.baseAddress!, v.baseAddress! + p * dimension))
                        }
                    }
                }
                return top.sorted().map { Int32($0.slot) }
            },
            approximate: { slot, probes in search(stored(slot), k: k + 1, nProbes: probes, rerank: rerank).map { Int32($0.slot) } })
    }
}
