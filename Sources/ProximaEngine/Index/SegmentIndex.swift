import Foundation
import ProximaCore
import ProximaFormat
import ProximaIndex

/// The ANN index of one segment, as stored beside its data file: the index
/// proper (HNSW or IVF, from `ProximaIndex`) plus a node table — the id and
/// version each node was built from — so any process can map nodes onto its
/// own records and ignore nodes a later write superseded (the delete bitmap),
/// and the recall it reached at each search width when it was built.
struct SegmentIndex: Sendable {
    /// The index kinds, as named in file names (`index.hnsw`) and coded in index files.
    enum Kind: String, Sendable {
        case hnsw, ivf

        var fileCode: UInt32 { self == .hnsw ? 1 : 2 }

        init?(fileCode: UInt32) {
            switch fileCode {
            case 1: self = .hnsw
            case 2: self = .ivf
            default: return nil
            }
        }

        /// `vectors`: the nodes' vectors, row-major in node order, for a body that keeps none.
        func decode(_ body: [UInt8], vectors: [Float]?) throws(FormatError) -> any ANNIndex {
            switch self {
            case .hnsw: try HNSWIndex(serialized: body, vectors: vectors)
            case .ivf: try IVFIndex(serialized: body, vectors: vectors)
            }
        }

        /// The index body (`size` bytes, read through `read`) opened for search
        /// by ranged reads, when this kind has a cold path; nil for graphs.
        /// `vectors` reads the rerank vectors of nodes (from the segment's data).
        func openCold(
            size: Int, read: @escaping IVFIndex.RangedFile.Read, vectors: IVFIndex.RangedFile.VectorRead? = nil
        ) async throws -> (index: any ColdANNIndex, cost: ColdReadCost)? {
            switch self {
            case .hnsw: return nil
            case .ivf: return try await IVFIndex.RangedFile.open(size: size, read: read, vectors: vectors)
            }
        }
    }

    var kind: Kind
    var index: any ANNIndex
    /// Per node, its row in the segment's rows (file order: live rows first), and that row's id and version.
    var nodeRows: [Int32]
    var nodeIds: [String]
    var nodeVersions: [Int64]
    /// Recall@10 by search width, measured at build; empty in files from before calibration.
    var calibration = RecallCalibration(points: [])
    /// The probe queries the calibration used, kept from a build (not stored):
    /// a graph's route over the same rows is measured on them too.
    var probes: RecallCalibration.Probes?

    /// Search width from the collection's settings: `ef_search` for HNSW,
    /// `n_probes` for IVF; a request's `target_recall` overrides both through
    /// the calibration.
    struct Width: Sendable {
        var ef: Int
        var probes: Int
        var targetRecall: Double? = nil
    }

    /// The index the collection's `indexing_algorithm` asks for, over the
    /// segment's live rows (`rows` in the segment file's order: nodes name
    /// rows by position); nil when exact search is the better plan (flat,
    /// small segments, binary metrics).
    ///
    /// `keeping`: part of an index of a segment being compacted into this one
    /// (see `Kept`), built on instead of starting over.
    static func build(config: CollectionConfig, rows: [SegmentRow], minRows: Int, keeping kept: Kept? = nil) -> SegmentIndex? {
        let liveRows = rows.indices.filter { !rows[$0].deleted }
        guard liveRows.count >= minRows, !config.distanceMetric.requiresBinaryVectors else { return nil }
        switch config.indexingAlgorithm {
        case .flat: return nil
        // HNSW over raw inner products loses recall on vectors of unequal norms (and the MIPS-to-L2
        // reduction measured 0.86-0.89 recall@10 where IVF ranks them well): dot product uses IVF.
        case .hnsw where config.distanceMetric == .dotProduct: return buildIVF(config, rows, liveRows, keeping: kept)
        case .hnsw: return buildHNSW(config, rows, liveRows, keeping: kept)
        case .ivf, .pq: return buildIVF(config, rows, liveRows, keeping: kept)
        }
    }

    /// What a merged segment's index keeps of an input's.
    enum Kept: Sendable {
        /// The graph, its nodes `keeping[j]` being the new segment's row of
        /// id `ids[j]` (rows stay in id order, so lookups by id stay a binary
        /// search); the other rows are inserted into it.
        case graph(HNSWIndex, keeping: [Int32], ids: [String])
        /// The IVF centroids: every row is assigned to them, and they are
        /// trained again only if the lists come out more unbalanced than `maxImbalance`.
        case centroids([Float], maxImbalance: Double)

        var keptNodes: Int {
            if case .graph(_, let keeping, _) = self { return keeping.count }
            return 0
        }
    }

    /// Index builds use every core (a build is a flush's or a compaction's
    /// critical path; in the serverless shape it is billed worker time).
    static var buildThreads: Int { BuildThreads.cores }

    static func hnswParameters(_ config: CollectionConfig) -> HNSWIndex.Parameters {
        let setting = { (key: String, fallback: Int) in config.setting(key).map { Int($0) } ?? fallback }
        return HNSWIndex.Parameters(m: max(4, min(64, setting("m", 16))), efConstruction: max(16, min(1000, setting("ef_construction", 200))))
    }

    static func buildHNSW(_ config: CollectionConfig, _ rows: [SegmentRow], _ liveRows: [Int], keeping kept: Kept?) -> SegmentIndex {
        let parameters = hnswParameters(config)
        // The kept graph's nodes become the first nodes, each the live row of its id; its parameters must be the collection's.
        var base: (graph: HNSWIndex, keeping: [Int32], rows: [Int])?
        if case .graph(let graph, let keeping, let ids) = kept, graph.parameters.m == parameters.m, graph.metric == config.distanceMetric,
            graph.dimension == config.dimension, keeping.count == ids.count, keeping.count <= liveRows.count
        {
            var rowOf = [String: Int](minimumCapacity: liveRows.count)
            for r in liveRows { rowOf[rows[r].record.id] = r }
            let keptRows = ids.compactMap { rowOf[$0] }
            if keptRows.count == ids.count { base = (graph, keeping, keptRows) }
        }
        let keptRows = base?.rows ?? []
        let taken = Set(keptRows)
        let nodeRows = keptRows + liveRows.filter { !taken.contains($0) }
        var vectors: [Float] = []
        vectors.reserveCapacity((nodeRows.count - keptRows.count) * config.dimension)
        for r in nodeRows.dropFirst(keptRows.count) { vectors += rows[r].record.vector }
        let index = HNSWIndex.build(
            vectors: vectors, metric: config.distanceMetric, dimension: config.dimension, parameters: parameters, threads: buildThreads,
            extending: base.map { ($0.graph, $0.keeping) })
        let probes = index.calibrationProbes()
        return SegmentIndex(
            kind: .hnsw, index: index, nodeRows: nodeRows.map { Int32($0) }, nodeIds: nodeRows.map { rows[$0].record.id },
            nodeVersions: nodeRows.map { rows[$0].record.version }, calibration: index.calibrate(probes: probes), probes: probes)
    }

    static func buildIVF(_ config: CollectionConfig, _ rows: [SegmentRow], _ liveRows: [Int], keeping kept: Kept?) -> SegmentIndex {
        let live = liveRows.map { rows[$0] }
        let dim = config.dimension
        var vectors: [Float] = []
        vectors.reserveCapacity(live.count * dim)
        for row in live { vectors += row.record.vector }
        let lists = max(1, min(live.count / 8, config.setting("n_lists").map { Int($0) } ?? Int(4 * Double(live.count).squareRoot())))
        // Nodes in list order: the node table is the id array the index would otherwise keep.
        // Kept centroids serve while there are at least half the lists this many rows would get.
        var reusing: ([Float], Double)?
        if case .centroids(let centroids, let maxImbalance) = kept, centroids.count % dim == 0, centroids.count / dim * 2 >= lists {
            reusing = (centroids, maxImbalance)
        }
        let (index, order) = IVFIndex(
            vectors: vectors, count: live.count, metric: config.distanceMetric, dimension: dim,
            parameters: ivfParameters(config, lists: lists), reusing: reusing
        ).renumberedByPosition()
        let nodes = order.map { live[Int($0)] }
        return SegmentIndex(
            kind: .ivf, index: index, nodeRows: order.map { Int32(liveRows[Int($0)]) }, nodeIds: nodes.map(\.record.id),
            nodeVersions: nodes.map(\.record.version), calibration: index.measureRecall())
    }

    /// IVF's parameters from the collection's settings (`quantization`, `pq_subvectors`).
    static func ivfParameters(_ config: CollectionConfig, lists: Int) -> IVFIndex.Parameters {
        let quantization = config.settings["quantization"]?.string ?? (config.indexingAlgorithm == .pq ? "pq" : "sq8")
        let codes: IVFIndex.Codes = switch quantization {
        case "pq": .pq
        case "binary": .rabitq
        case "flat": .flat
        default: .sq8
        }
        var subspaces = config.setting("pq_subvectors").map { Int($0) }
        if let m = subspaces, m < 1 || config.dimension % m != 0 { subspaces = nil }
        return .init(nLists: lists, codes: codes, pqSubspaces: subspaces)
    }

    /// A graph's route codes: the collection's `quantization` when it names
    /// one, else PQ at four bits a dimension (two-dimensional subspaces), so
    /// the segment's graph and route together stay near half its vectors'
    /// size (the bucket keeps one copy of the vectors, in the segment's data).
    /// `bench/cache --vectors 1000000 --index hnsw`: bytes in the store / raw
    /// 1.238 with compact graphs (1.54 with SQ8 codes and flat links),
    /// recall@10 0.996, 175 requests per cold query. 1-bit codes cost
    /// recall@10 0.978 and 413 requests per cold query at 200k.
    static func routeParameters(_ config: CollectionConfig, lists: Int) -> IVFIndex.Parameters {
        guard config.settings["quantization"]?.string == nil, config.setting("pq_subvectors") == nil, config.dimension % 2 == 0 else {
            return ivfParameters(config, lists: lists)
        }
        return .init(nLists: lists, codes: .pq, pqSubspaces: config.dimension / 2)
    }

    /// A graph's cold route (see `HNSWIndex.route`): an IVF index over the
    /// same nodes, its centroids and lists taken from the graph rather than
    /// trained; nil for an index that is not a graph. `rows` in file order.
    func route(config: CollectionConfig, rows: [SegmentRow]) -> SegmentIndex? {
        guard let graph = index as? HNSWIndex, !nodeRows.isEmpty else { return nil }
        let route = graph.route(threads: Self.buildThreads)
        let dim = config.dimension
        // The graph's own vectors (node order; cosine: unit length, which IVF's cosine space is too), not a copy from the rows.
        let (ivf, order) = IVFIndex(
            vectors: graph.nodeVectors, count: nodeRows.count, metric: config.distanceMetric, dimension: dim,
            parameters: Self.routeParameters(config, lists: max(1, route.centroids.count / dim)),
            assigned: (route.centroids, route.assignment)
        ).renumberedByPosition()
        let routeRows = order.map { nodeRows[Int($0)] }
        // The graph's probes, its nodes renumbered as the route's slots: no second set of exact searches.
        let calibration = probes.map { ivf.calibrate(rerank: ivf.suggestedRerank, probes: $0.renumbered(order: order)) } ?? ivf.measureRecall()
        return SegmentIndex(
            kind: .ivf, index: ivf, nodeRows: routeRows, nodeIds: routeRows.map { rows[Int($0)].record.id },
            nodeVersions: routeRows.map { rows[Int($0)].record.version }, calibration: calibration)
    }

    /// Nearest nodes among those `accept` keeps, nearest first, in the metric's
    /// own distance. `filtered`: whether `accept` applies a user's filter, or
    /// only masks superseded nodes (then the exact plan is kept for when
    /// almost every node is masked, so the index's own search is used).
    func search(_ query: [Float], k: Int, width: Width, filtered: Bool, accept: @escaping (Int32) -> Bool) -> [(node: Int32, distance: Float)] {
        let calibrated = width.targetRecall.flatMap { calibration.width(for: $0) }
        let nodes = nodeIds.count
        let plan = FilterPlan.choose(
            count: nodes, selectivity: FilterPlan.selectivity(count: nodes, accept: accept), exactBelowMatches: filtered)
        return index.search(query, k: k, width: calibrated ?? index.defaultWidth(ef: width.ef, probes: width.probes), accept: accept, plan: plan)
            .map { ($0.slot, $0.distance) }
    }

    // MARK: file

    /// The stored form (`SegmentIndexFile` in ProximaFormat), without the
    /// vectors: the segment's data holds the one copy of them.
    func encode() -> [UInt8] {
        SegmentIndexFile(
            kind: kind.fileCode, nodeRows: nodeRows, calibration: calibration.points, body: index.serialized(includingVectors: false)
        ).encode()
    }

    /// Opens a stored index over its segment's rows (in file order): each
    /// node's row, id, version and vector come from there.
    static func decode(_ bytes: [UInt8], rows: [SegmentRow]) throws(FormatError) -> SegmentIndex {
        let file = try SegmentIndexFile.decode(bytes)
        guard let kind = Kind(fileCode: file.kind) else { throw FormatError("unknown segment index kind \(file.kind)") }
        var nodeRows = file.nodeRows
        if nodeRows.isEmpty, !file.nodeIds.isEmpty {
            // Files from before row tables name nodes by id and version.
            var rowOf = [String: Int](minimumCapacity: rows.count)
            for (r, row) in rows.enumerated() where !row.deleted { rowOf[row.record.id] = r }
            for (id, version) in zip(file.nodeIds, file.nodeVersions) {
                guard let r = rowOf[id], rows[r].record.version == version else {
                    throw FormatError("index node '\(id)' is not a live row of its segment")
                }
                nodeRows.append(Int32(r))
            }
        }
        var vectors: [Float] = []
        for r in nodeRows {
            guard Int(r) < rows.count, !rows[Int(r)].deleted else { throw FormatError("index node row \(r) is not a live row of its segment") }
            vectors += rows[Int(r)].record.vector
        }
        let index = try kind.decode(file.body, vectors: vectors)
        guard index.count == nodeRows.count else {
            throw FormatError("segment index has \(index.count) nodes, its table \(nodeRows.count)")
        }
        return SegmentIndex(
            kind: kind, index: index, nodeRows: nodeRows, nodeIds: nodeRows.map { rows[Int($0)].record.id },
            nodeVersions: nodeRows.map { rows[Int($0)].record.version },
            calibration: RecallCalibration(points: file.calibration))
    }
}
