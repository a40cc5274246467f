import ProximaCore

/// Inverted-file index: k-means centroids, and per centroid a posting list of
/// the vectors nearest to it, stored contiguously so a probe is one sequential
/// read. Lists hold full vectors (`flat`), or SQ8, PQ or binary (RaBitQ)
/// codes, which are re-ranked with the full vectors. This is the cold-query path of ARCHITECTURE.md:
/// centroids, then the chosen lists, then the rerank vectors.
public struct IVFIndex: Sendable {
    public enum Codes: String, Sendable, CaseIterable { case flat, sq8, pq, rabitq }

    public struct Parameters: Sendable, Equatable {
        public var nLists: Int
        public var codes: Codes
        /// PQ bytes per vector (must divide the dimension); nil picks dimension/8 (1/32 of float32).
        public var pqSubspaces: Int?
        public var seed: UInt64
        public init(nLists: Int, codes: Codes = .flat, pqSubspaces: Int? = nil, seed: UInt64 = 1) {
            self.nLists = max(1, nLists)
            self.codes = codes
            self.pqSubspaces = pqSubspaces
            self.seed = seed
        }
    }

    public let metric: DistanceMetric
    public let dimension: Int
    public let parameters: Parameters
    public private(set) var centroids: [Float]
    /// List `l` is positions `listOffsets[l] ..< listOffsets[l + 1]`.
    public private(set) var listOffsets: [Int]
    /// For inner products: each list's radius, the largest distance of one of
    /// its vectors from its centroid, so `q·c + |q|·r` bounds `q·x` over the
    /// list (empty for the other metrics, which rank lists by distance).
    public private(set) var listRadii: [Float]
    /// Caller's slot for each position; empty when slots are positions
    /// (`renumberedByPosition`), which saves 4 bytes a vector.
    public private(set) var ids: [Int32]
    /// Full vectors by position (normalised for cosine): scanned for `flat`, re-ranked for `sq8`.
    public private(set) var vectors: [Float]
    public private(set) var codes: [UInt8]
    public let quantizer: ScalarQuantizer?
    public let productQuantizer: ProductQuantizer?
    public let binaryQuantizer: BinaryQuantizer?
    /// An HNSW graph over the centroids when there are at least
    /// `centroidGraphMinLists`, so choosing lists does not scan them all;
    /// rebuilt on load, not stored. Below that a scan is cheap (8192 lists
    /// of 128 floats: ~0.1 ms a query) and the build is not: at 2048 lists
    /// and up, every cold open of a million-row segment built a graph first.
    let centroidGraph: HNSWIndex?
    public static let centroidGraphMinLists = 8192

    static func graph(over centroids: [Float], dimension dim: Int) -> HNSWIndex? {
        let lists = centroids.count / dim
        guard lists >= centroidGraphMinLists else { return nil }
        return KMeans.centroidGraph(centroids, dimension: dim)
    }

    public let count: Int

    /// The caller's slot at position `p`.
    @inline(__always)
    public func slot(at p: Int) -> Int32 { ids.isEmpty ? Int32(p) : ids[p] }

    /// The same index with each vector's slot made its position (list order),
    /// so no id array is kept: `order[p]` is the slot that is now `p`. A
    /// caller keeping its own table of what each slot is reorders it by `order`.
    public func renumberedByPosition() -> (index: IVFIndex, order: [Int32]) {
        var copy = self
        let order = (0..<count).map { slot(at: $0) }
        copy.ids = []
        return (copy, order)
    }
    public var listCount: Int { listOffsets.count - 1 }

    /// Builds over `count` row-major vectors; slot `i` is row `i`.
    ///
    /// `reusing`: centroids to keep (another index's, when compaction merges
    /// its rows with others) instead of training new ones, unless the lists
    /// they give are more unbalanced than `maxImbalance` (see `imbalance`).
    /// `assigned`: centroids and each row's list, taken as they are (a
    /// graph's route, `HNSWIndex.route`), in the space the index searches
    /// (cosine: unit length).
    public init(
        vectors data: [Float], count: Int, metric: DistanceMetric, dimension dim: Int, parameters: Parameters,
        reusing kept: (centroids: [Float], maxImbalance: Double)? = nil,
        assigned: (centroids: [Float], assignment: [Int32])? = nil
    ) {
        precondition(data.count == count * dim)
        self.metric = metric
        self.dimension = dim
        self.parameters = parameters
        var rows = data
        if metric == .cosine {
            rows.withUnsafeMutableBufferPointer { p in
                for i in 0..<count {
                    let inv = DistanceKernels.inverseNorm(p.baseAddress! + i * dim, dim)
                    for d in 0..<dim { p[i * dim + d] *= inv }
                }
            }
        }
        let lists = min(parameters.nLists, max(1, count))
        var centroids: [Float] = []
        var assignment = [Int32](repeating: 0, count: count)
        if let assigned, !assigned.centroids.isEmpty, assigned.centroids.count % dim == 0, assigned.assignment.count == count,
            assigned.assignment.allSatisfy({ $0 >= 0 && Int($0) < assigned.centroids.count / dim })
        {
            centroids = assigned.centroids
            assignment = assigned.assignment
        } else if let kept, !kept.centroids.isEmpty, kept.centroids.count % dim == 0 {
            KMeans.assign(rows, count: count, dim: dim, centroids: kept.centroids, k: kept.centroids.count / dim, into: &assignment)
            if Self.imbalance(assignment, lists: kept.centroids.count / dim) <= kept.maxImbalance { centroids = kept.centroids }
        }
        if centroids.isEmpty {
            centroids = rows.withUnsafeBufferPointer {
                KMeans.train($0, count: max(count, 1), dimension: dim, k: lists, seed: parameters.seed)
            }
            KMeans.assign(rows, count: count, dim: dim, centroids: centroids, k: centroids.count / dim, into: &assignment)
        }
        let k = centroids.count / dim
        // Counting sort by list: positions of each list are contiguous.
        var offsets = [Int](repeating: 0, count: k + 1)
        for a in assignment { offsets[Int(a) + 1] += 1 }
        for l in 0..<k { offsets[l + 1] += offsets[l] }
        var cursor = offsets
        var ids = [Int32](repeating: 0, count: count)
        var ordered = [Float](repeating: 0, count: count * dim)
        ordered.withUnsafeMutableBufferPointer { out in
            rows.withUnsafeBufferPointer { from in
                for i in 0..<count {
                    let l = Int(assignment[i])
                    let p = cursor[l]
                    cursor[l] += 1
                    ids[p] = Int32(i)
                    (out.baseAddress! + p * dim).update(from: from.baseAddress! + i * dim, count: dim)
                }
            }
        }
        self.count = count
        self.centroids = centroids
        self.centroidGraph = Self.graph(over: centroids, dimension: dim)
        self.listOffsets = offsets
        self.listRadii = metric == .dotProduct ? Self.radii(ordered, listOffsets: offsets, centroids: centroids, dimension: dim) : []
        self.ids = ids
        self.vectors = ordered
        var scalar: ScalarQuantizer?, product: ProductQuantizer?, binary: BinaryQuantizer?
        var codes: [UInt8] = []
        switch parameters.codes {
        case .flat:
            break
        case .sq8:
            let q = ordered.withUnsafeBufferPointer { ScalarQuantizer(training: $0, count: count, dimension: dim) }
            codes = Self.encodeRows(ordered, count: count, dimension: dim, width: dim) { q.encode($0, into: $1) }
            scalar = q
        case .pq:
            var m = parameters.pqSubspaces ?? max(1, dim / 8)
            while dim % m != 0 { m -= 1 }
            // Codes quantise the residual from the list's centroid (IVF-PQ): far finer than the vector itself.
            // Residuals are formed where they are used, never all at once (a second copy of every vector).
            let pq = Self.trainOnResiduals(ordered, listOffsets: offsets, centroids: centroids, dimension: dim, subspaces: m, seed: parameters.seed)
            codes = Self.encodeResiduals(ordered, listOffsets: offsets, centroids: centroids, dimension: dim, pq)
            product = pq
        case .rabitq:
            let bq = BinaryQuantizer(dimension: dim, seed: parameters.seed)
            codes = Self.encodeBinary(ordered, listOffsets: offsets, centroids: centroids, dimension: dim, metric: metric, bq)
            binary = bq
        }
        self.quantizer = scalar
        self.productQuantizer = product
        self.binaryQuantizer = binary
        self.codes = codes
    }

    /// faiss's imbalance factor of an assignment: `lists · Σ size² / n²`, 1
    /// when every list is the same size; a query's scan cost grows with it.
    public static func imbalance(_ assignment: [Int32], lists: Int) -> Double {
        guard !assignment.isEmpty, lists > 0 else { return 1 }
        var sizes = [Int](repeating: 0, count: lists)
        for a in assignment { sizes[Int(a)] += 1 }
        return Self.imbalance(sizes: sizes)
    }

    static func imbalance(sizes: [Int]) -> Double {
        let n = Double(sizes.reduce(0, +))
        guard n > 0 else { return 1 }
        return Double(sizes.count) * sizes.reduce(0.0) { $0 + Double($1) * Double($1) } / (n * n)
    }

    /// This index's own imbalance factor.
    public var imbalance: Double { Self.imbalance(sizes: (0..<listCount).map { listOffsets[$0 + 1] - listOffsets[$0] }) }

    /// Per list, the largest distance of its rows from its centroid.
    static func radii(_ rows: [Float], listOffsets offsets: [Int], centroids: [Float], dimension dim: Int) -> [Float] {
        rows.withUnsafeBufferPointer { v in
            centroids.withUnsafeBufferPointer { c in
                (0..<(offsets.count - 1)).map { l in
                    var r: Float = 0
                    for p in offsets[l]..<offsets[l + 1] { r = max(r, DistanceKernels.squaredL2(v.baseAddress! + p * dim, c.baseAddress! + l * dim, dim)) }
                    return r.squareRoot()
                }
            }
        }
    }

    /// Binary code rows of the `rows` in each list, from their residuals to the list's centroid.
    static func encodeBinary(
        _ rows: [Float], listOffsets offsets: [Int], centroids: [Float], dimension dim: Int, metric: DistanceMetric, _ bq: BinaryQuantizer
    ) -> [UInt8] {
        var codes = [UInt8](repeating: 0, count: (offsets.last ?? 0) * bq.rowBytes)
        var residual = [Float](repeating: 0, count: dim), rotatedCentre = [Float](repeating: 0, count: bq.paddedDimension)
        centroids.withUnsafeBufferPointer { cents in
            codes.withUnsafeMutableBufferPointer { out in
                for l in 0..<(offsets.count - 1) {
                    let centre = cents.baseAddress! + l * dim
                    rotatedCentre.withUnsafeMutableBufferPointer { bq.rotate(centre, into: $0.baseAddress!) }
                    for p in offsets[l]..<offsets[l + 1] {
                        var squared: Float = 0, withCentre: Float = 0
                        for d in 0..<dim {
                            let r = rows[p * dim + d] - centre[d]
                            residual[d] = r
                            squared += r * r
                            withCentre += r * centre[d]
                        }
                        bq.encode(
                            residual: residual, rotatedCentroid: rotatedCentre, extra: metric == .dotProduct ? withCentre : squared,
                            into: out.baseAddress! + p * bq.rowBytes)
                    }
                }
            }
        }
        return codes
    }

    /// PQ codebooks trained on the residuals (row − its list's centroid) of
    /// the rows `ProductQuantizer(training:)` would sample from all of them.
    static func trainOnResiduals(
        _ rows: [Float], listOffsets offsets: [Int], centroids: [Float], dimension dim: Int, subspaces m: Int, seed: UInt64
    ) -> ProductQuantizer {
        let count = offsets.last ?? 0
        let sampleCount = min(count, ProductQuantizer.trainingSample), stride = max(1, count / max(sampleCount, 1))
        var sample = [Float](repeating: 0, count: sampleCount * dim)
        var list = 0
        for i in 0..<sampleCount {
            let p = i * stride
            while offsets[list + 1] <= p { list += 1 }
            for d in 0..<dim { sample[i * dim + d] = rows[p * dim + d] - centroids[list * dim + d] }
        }
        return sample.withUnsafeBufferPointer { ProductQuantizer(training: $0, count: sampleCount, dimension: dim, subspaces: m, seed: seed) }
    }

    /// PQ codes of each row's residual from its list's centroid, lists in chunks on all cores.
    static func encodeResiduals(_ rows: [Float], listOffsets offsets: [Int], centroids: [Float], dimension dim: Int, _ pq: ProductQuantizer) -> [UInt8] {
        let count = offsets.last ?? 0, lists = offsets.count - 1, width = pq.subspaces
        var codes = [UInt8](repeating: 0, count: count * width)
        rows.withUnsafeBufferPointer { v in
            centroids.withUnsafeBufferPointer { c in
                codes.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let (v, c, out) = (v, c, out)
                    let chunk = 16
                    BuildThreads.perform(iterations: (lists + chunk - 1) / chunk) { part in
                        var residual = [Float](repeating: 0, count: dim)
                        residual.withUnsafeMutableBufferPointer { r in
                            for l in (part * chunk)..<min(lists, (part + 1) * chunk) {
                                let centre = c.baseAddress! + l * dim
                                for p in offsets[l]..<offsets[l + 1] {
                                    let row = v.baseAddress! + p * dim
                                    for d in 0..<dim { r[d] = row[d] - centre[d] }
                                    pq.encode(r.baseAddress!, into: out.baseAddress! + p * width)
                                }
                            }
                        }
                    }
                }
            }
        }
        return codes
    }

    /// `width` code bytes per row of `rows`, written by `encode`.
    static func encodeRows(
        _ rows: [Float], count: Int, dimension: Int, width: Int, _ encode: @escaping @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<UInt8>) -> Void
    ) -> [UInt8] {
        var codes = [UInt8](repeating: 0, count: count * width)
        rows.withUnsafeBufferPointer { v in
            codes.withUnsafeMutableBufferPointer { c in
                // Rows in chunks on all cores; each writes only its own codes.
                nonisolated(unsafe) let (v, c) = (v, c)
                let chunk = 4096
                BuildThreads.perform(iterations: (count + chunk - 1) / chunk) { part in
                    for p in (part * chunk)..<min(count, (part + 1) * chunk) { encode(v.baseAddress! + p * dimension, c.baseAddress! + p * width) }
                }
            }
        }
        return codes
    }

    /// An index from its stored parts (see `IVFIndex+Serialization`); without
    /// ids, codes and vectors it is the skeleton a ranged search starts from.
    init(
        metric: DistanceMetric, dimension: Int, parameters: Parameters, count: Int, centroids: [Float], listOffsets: [Int], listRadii: [Float], ids: [Int32],
        vectors: [Float], codes: [UInt8], quantizer: ScalarQuantizer?, productQuantizer: ProductQuantizer?,
        binaryQuantizer: BinaryQuantizer?
    ) {
        self.count = count
        self.metric = metric
        self.dimension = dimension
        self.parameters = parameters
        self.centroids = centroids
        self.centroidGraph = Self.graph(over: centroids, dimension: dimension)
        self.listOffsets = listOffsets
        self.listRadii = listRadii
        self.ids = ids
        self.vectors = vectors
        self.codes = codes
        self.quantizer = quantizer
        self.productQuantizer = productQuantizer
        self.binaryQuantizer = binaryQuantizer
    }

    /// Ranking distance between a prepared query and position `p` (full precision).
    @inline(__always)
    func exactDistance(_ q: UnsafePointer<Float>, _ v: UnsafePointer<Float>) -> Float {
        metric.rankingDistance(q, v, dimension: dimension)
    }

    /// The `k` nearest slots among the `nProbes` nearest lists; SQ8 keeps
    /// `k × rerank` candidates and orders them again with full vectors.
    /// A filter goes through `FilterPlan`: exact over the matches when they
    /// are few, else `nProbes` widened by 1/selectivity.
    public func search(
        _ query: [Float], k: Int, nProbes: Int, rerank: Int = 4, accept: ((Int32) -> Bool)? = nil, plan: FilterPlan? = nil
    ) -> [TopK.Candidate] {
        guard count > 0, k > 0 else { return [] }
        var nProbes = nProbes
        var filterFirst = false
        if let accept {
            switch plan ?? FilterPlan.choose(count: count, selectivity: FilterPlan.selectivity(count: count) { accept(slot(at: Int($0))) }) {
            case .filterFirst: filterFirst = true
            case .widened(let factor): nProbes = min(listCount, Int((Double(nProbes) * factor).rounded(.up)))
            }
        }
        let q = prepared(query)
        let dim = dimension
        return q.withUnsafeBufferPointer { qb in
            let qp = qb.baseAddress!
            if filterFirst, let accept {
                var top = TopK(k: k)
                vectors.withUnsafeBufferPointer { v in
                    for p in 0..<count where accept(slot(at: p)) { top.insert(slot: p, distance: exactDistance(qp, v.baseAddress! + p * dim)) }
                }
                return top.sorted().map { c in
                    TopK.Candidate(slot: Int(slot(at: c.slot)), distance: metric == .euclidean ? max(c.distance, 0).squareRoot() : c.distance)
                }
            }
            // 1. The lists to probe; 2. their rows, scanned.
            let probed = nearestLists(qp, nProbes)
            let reranks = parameters.codes != .flat
            var top = TopK(k: reranks ? k * max(1, rerank) : k)
            withListRows { rows in scanLists(qp, probed, accept, &top, rows) }
            // 3. Re-rank quantised candidates with full vectors.
            return answer(qp, top, k: k)
        }
    }

    /// The `k` nearest of a scan's candidates (positions; distances estimated
    /// from codes, so re-ranked with full vectors), as slots with the metric's distance.
    func answer(_ qp: UnsafePointer<Float>, _ top: TopK, k: Int) -> [TopK.Candidate] {
        var final = top
        if parameters.codes != .flat {
            final = TopK(k: k)
            vectors.withUnsafeBufferPointer { v in
                for c in top.sorted() { final.insert(slot: c.slot, distance: exactDistance(qp, v.baseAddress! + c.slot * dimension)) }
            }
        }
        return final.sorted().map { c in
            TopK.Candidate(slot: Int(slot(at: c.slot)), distance: metric == .euclidean ? max(c.distance, 0).squareRoot() : c.distance)
        }
    }

    /// What `search(query, k:, nProbes: w, rerank:)` answers without a
    /// filter, for each of `widths` (ascending), from one scan: lists are
    /// scanned nearest first, so the first `w` of the widest probe are the
    /// `w` a narrower search takes, and its candidates are the running top's
    /// after them. Calibration sweeps sixteen widths this way at the cost of
    /// the widest. Lists chosen through the centroid graph are not nested
    /// that way (its beam depends on the width): those sweep one search each.
    public func searchAtWidths(_ query: [Float], k: Int, widths: [Int], rerank: Int) -> [[TopK.Candidate]] {
        guard centroidGraph == nil, count > 0, k > 0, let widest = widths.max() else {
            return widths.map { search(query, k: k, nProbes: $0, rerank: rerank) }
        }
        let q = prepared(query)
        return q.withUnsafeBufferPointer { qb in
            let qp = qb.baseAddress!
            let probed = nearestLists(qp, widest)
            var top = TopK(k: parameters.codes != .flat ? k * max(1, rerank) : k)
            var scanned = 0
            return widths.map { width in
                let through = min(width, probed.count)
                if through > scanned {
                    withListRows { rows in scanLists(qp, Array(probed[scanned..<through]), nil, &top, rows) }
                    scanned = through
                }
                return answer(qp, top, k: k)
            }
        }
    }

    /// The query as the index compares it (unit length for cosine).
    func prepared(_ query: [Float]) -> [Float] {
        guard metric == .cosine else { return query }
        let inv = query.withUnsafeBufferPointer { DistanceKernels.inverseNorm($0.baseAddress!, dimension) }
        return query.map { $0 * inv }
    }

    /// The `nProbes` lists whose centroids are nearest, with the squared
    /// distance to each: by a scan or, when there are many, their graph.
    /// For inner products, the lists whose bound `q·c + |q|·r` on any of
    /// their rows' products is largest (its negation is the distance):
    /// ranking by the centroid alone under-serves large-norm rows in wide lists.
    func nearestLists(_ q: UnsafePointer<Float>, _ nProbes: Int) -> [TopK.Candidate] {
        let dim = dimension, wanted = min(nProbes, listCount)
        if metric == .dotProduct, listRadii.count == listCount {
            let qNorm = DistanceKernels.dot(q, q, dim).squareRoot()
            var probe = TopK(k: wanted)
            centroids.withUnsafeBufferPointer { c in
                for l in 0..<listCount { probe.insert(slot: l, distance: -(DistanceKernels.dot(q, c.baseAddress! + l * dim, dim) + qNorm * listRadii[l])) }
            }
            return probe.sorted()
        }
        if let centroidGraph {
            return centroidGraph.search(Array(UnsafeBufferPointer(start: q, count: dim)), k: wanted, ef: max(64, 2 * nProbes)).map {
                TopK.Candidate(slot: Int($0.slot), distance: $0.distance * $0.distance)
            }
        }
        var probe = TopK(k: wanted)
        centroids.withUnsafeBufferPointer { c in
            for l in 0..<listCount { probe.insert(slot: l, distance: DistanceKernels.squaredL2(q, c.baseAddress! + l * dim, dim)) }
        }
        return probe.sorted()
    }

    /// Where a scan finds list `l`'s rows (the row of its first position):
    /// this index's own arrays, or bytes a ranged read fetched.
    typealias ListRows = (Int) -> UnsafeRawPointer

    /// Bytes of one position's row in the posting lists: its code, or its full vector for `flat`.
    var rowBytes: Int { parameters.codes == .flat ? dimension * 4 : codeBytesPerVector }

    func withListRows<R>(_ body: (ListRows) -> R) -> R {
        let width = rowBytes
        if parameters.codes == .flat {
            return vectors.withUnsafeBytes { v in body { l in v.baseAddress! + listOffsets[l] * width } }
        }
        return codes.withUnsafeBytes { c in body { l in c.baseAddress! + listOffsets[l] * width } }
    }

    /// Scans the probed lists into `top`: positions with ranking distances,
    /// estimated from codes (exact for `flat`).
    func scanLists(_ q: UnsafePointer<Float>, _ probed: [TopK.Candidate], _ accept: ((Int32) -> Bool)?, _ top: inout TopK, _ rows: ListRows) {
        if let quantizer {
            scanSQ8(q, probed.map(\.slot), quantizer, accept, &top, rows)
        } else if let productQuantizer {
            scanPQ(q, probed.map(\.slot), productQuantizer, accept, &top, rows)
        } else if let binaryQuantizer {
            scanBinary(q, probed, binaryQuantizer, accept, &top, rows)
        } else {
            let dim = dimension
            for list in probed {
                let l = list.slot, first = listOffsets[l]
                let base = rows(l).assumingMemoryBound(to: Float.self)
                for p in first..<listOffsets[l + 1] {
                    let d = exactDistance(q, base + (p - first) * dim)
                    if top.accepts(d), accept?(slot(at: p)) ?? true { top.insert(slot: p, distance: d) }
                }
            }
        }
    }

    func scanSQ8(_ q: UnsafePointer<Float>, _ lists: [Int], _ quantizer: ScalarQuantizer, _ accept: ((Int32) -> Bool)?, _ top: inout TopK, _ rows: ListRows) {
        let dim = dimension
        do {
            quantizer.scale.withUnsafeBufferPointer { s in
                switch metric {
                case .cosine, .dotProduct:
                    var qs = [Float](repeating: 0, count: dim)
                    var qMin: Float = 0
                    for d in 0..<dim {
                        qs[d] = q[d] * s[d]
                        qMin += q[d] * quantizer.minimum[d]
                    }
                    qs.withUnsafeBufferPointer { qsp in
                        for l in lists {
                            let first = listOffsets[l], base = rows(l).assumingMemoryBound(to: UInt8.self)
                            for p in first..<listOffsets[l + 1] {
                                let dot = ScalarQuantizer.dot(queryTimesScale: qsp.baseAddress!, queryDotMinimum: qMin, code: base + (p - first) * dim, dim)
                                let d = metric == .cosine ? 1 - dot : -dot
                                if top.accepts(d), accept?(slot(at: p)) ?? true { top.insert(slot: p, distance: d) }
                            }
                        }
                    }
                default:
                    let shifted = (0..<dim).map { q[$0] - quantizer.minimum[$0] }
                    shifted.withUnsafeBufferPointer { sq in
                        for l in lists {
                            let first = listOffsets[l], base = rows(l).assumingMemoryBound(to: UInt8.self)
                            for p in first..<listOffsets[l + 1] {
                                let d = ScalarQuantizer.squaredL2(shiftedQuery: sq.baseAddress!, scale: s.baseAddress!, code: base + (p - first) * dim, dim)
                                if top.accepts(d), accept?(slot(at: p)) ?? true { top.insert(slot: p, distance: d) }
                            }
                        }
                    }
                }
            }
        }
    }

    func scanPQ(_ q: UnsafePointer<Float>, _ lists: [Int], _ pq: ProductQuantizer, _ accept: ((Int32) -> Bool)?, _ top: inout TopK, _ rows: ListRows) {
        // Codes hold residuals r = v - c_l. Squared L2 (which ranks cosine too, on
        // normalised vectors) needs a table for q - c_l per list; the dot product
        // splits into q·c_l, a constant per list, plus a table for q·r.
        let dim = dimension, m = pq.subspaces
        let inner = metric == .dotProduct
        let shared = inner ? pq.lookupTable(q, innerProduct: true) : []
        var residualQuery = [Float](repeating: 0, count: dim)
        do {
            centroids.withUnsafeBufferPointer { cents in
                for l in lists {
                    let centre = cents.baseAddress! + l * dim
                    var constant: Float = 0
                    let table: [Float]
                    if inner {
                        constant = -DistanceKernels.dot(q, centre, dim)
                        table = shared
                    } else {
                        for d in 0..<dim { residualQuery[d] = q[d] - centre[d] }
                        table = residualQuery.withUnsafeBufferPointer { pq.lookupTable($0.baseAddress!, innerProduct: false) }
                    }
                    let first = listOffsets[l], base = rows(l).assumingMemoryBound(to: UInt8.self)
                    table.withUnsafeBufferPointer { t in
                        for p in first..<listOffsets[l + 1] {
                            let d = constant + ProductQuantizer.distance(table: t.baseAddress!, code: base + (p - first) * m, subspaces: m)
                            if top.accepts(d), accept?(slot(at: p)) ?? true { top.insert(slot: p, distance: d) }
                        }
                    }
                }
            }
        }
    }

    /// `probed`: the lists with the query's squared distance to their centroid.
    func scanBinary(_ q: UnsafePointer<Float>, _ probed: [TopK.Candidate], _ bq: BinaryQuantizer, _ accept: ((Int32) -> Bool)?, _ top: inout TopK, _ rows: ListRows) {
        let dim = dimension, width = bq.rowBytes, bytes = bq.codeBytes
        var rotated = [Float](repeating: 0, count: bq.paddedDimension)
        rotated.withUnsafeMutableBufferPointer { bq.rotate(q, into: $0.baseAddress!) }
        let table = rotated.withUnsafeBufferPointer { bq.table(rotatedQuery: $0.baseAddress!) }
        let total = table.total, invRootD = table.invRootD
        do {
            centroids.withUnsafeBufferPointer { cents in
                table.sums.withUnsafeBufferPointer { t in
                    for list in probed {
                        let l = list.slot
                        // ‖v − q‖² = ‖r‖² + ‖q − c‖² − 2⟨r, q − c⟩; ⟨v, q⟩ = ⟨c, q⟩ + ⟨r, c⟩ + ⟨r, q − c⟩.
                        let centreTerm = metric == .dotProduct ? DistanceKernels.dot(q, cents.baseAddress! + l * dim, dim) : list.distance
                        let first = listOffsets[l], base = rows(l).assumingMemoryBound(to: UInt8.self)
                        for p in first..<listOffsets[l + 1] {
                            let row = base + (p - first) * width
                            let s = BinaryQuantizer.signedProduct(t.baseAddress!, total: total, invRootD: invRootD, code: row, bytes: bytes)
                            let f = BinaryQuantizer.factors(row, codeBytes: bytes)
                            let estimate = f.scale * (s - f.offset)
                            let d: Float = switch metric {
                            case .dotProduct: -(centreTerm + f.extra + estimate)
                            case .cosine: (f.extra + centreTerm - 2 * estimate) / 2
                            default: f.extra + centreTerm - 2 * estimate
                            }
                            if top.accepts(d), accept?(slot(at: p)) ?? true { top.insert(slot: p, distance: d) }
                        }
                    }
                }
            }
        }
    }

    /// Bytes a search keeps in memory per vector: codes (or full vectors for
    /// `flat`) plus the id unless slots are positions; the centroids and codebooks are shared. Rerank
    /// vectors for quantised codes are read on demand and are not counted.
    public var searchBytesPerVector: Double {
        guard count > 0 else { return 0 }
        let shared = centroids.count * 4 + listOffsets.count * 8 + (productQuantizer?.codebooks.count ?? 0) * 4
        return Double(codeBytesPerVector + (ids.isEmpty ? 0 : 4)) + Double(shared) / Double(count)
    }

    /// Candidates per result worth reranking with full vectors: coarser codes need more.
    public var suggestedRerank: Int {
        switch parameters.codes {
        case .flat: 1
        case .sq8: 4
        // Subspaces of one or two dimensions (residuals, 256 centroids each) are nearly as fine as SQ8's grid.
        case .pq: productQuantizer!.subDimension <= 2 ? 4 : 16
        case .rabitq: binaryQuantizer!.suggestedRerank
        }
    }

    /// A vector's own code in a posting list (full vector for `flat`).
    public var codeBytesPerVector: Int {
        switch parameters.codes {
        case .flat: dimension * 4
        case .sq8: dimension
        case .pq: productQuantizer!.subspaces
        case .rabitq: binaryQuantizer!.rowBytes
        }
    }
}
