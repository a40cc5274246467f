import ProximaCore
import ProximaFormat
import ProximaIndex

/// The ANN index of one segment, as stored beside its data file: the index
/// proper (HNSW or IVF, from `ProximaIndex`) plus a node table — the id and
/// version each node was built from — so any process can map nodes onto its
/// own records and ignore nodes a later write superseded (the delete bitmap),
/// and the recall it reached at each search width when it was built.
struct SegmentIndex: Sendable {
    enum Kind: String, Sendable { case hnsw, ivf }

    enum Structure: Sendable {
        case hnsw(HNSWIndex)
        case ivf(IVFIndex)
    }

    var structure: Structure
    var nodeIds: [String]
    var nodeVersions: [Int64]
    /// Recall@10 by search width, measured at build; empty in files from before calibration.
    var calibration = RecallCalibration(points: [])

    var kind: Kind {
        switch structure {
        case .hnsw: .hnsw
        case .ivf: .ivf
        }
    }

    /// Search width from the collection's settings: `ef_search` for HNSW,
    /// `n_probes` for IVF; a request's `target_recall` overrides both through
    /// the calibration.
    struct Width: Sendable {
        var ef: Int
        var probes: Int
        var targetRecall: Double? = nil
    }

    /// The index the collection's `indexing_algorithm` asks for, over the
    /// segment's live rows; nil when exact search is the better plan (flat,
    /// small segments, binary metrics).
    static func build(config: CollectionConfig, rows: [SegmentRow], minRows: Int) -> SegmentIndex? {
        let live = rows.filter { !$0.deleted }
        guard live.count >= minRows, !config.distanceMetric.requiresBinaryVectors else { return nil }
        switch config.indexingAlgorithm {
        case .flat: return nil
        // HNSW over raw inner products loses recall on vectors of unequal norms (and the MIPS-to-L2
        // reduction measured 0.86-0.89 recall@10 where IVF ranks them well): dot product uses IVF.
        case .hnsw where config.distanceMetric == .dotProduct: return buildIVF(config, live)
        case .hnsw: return buildHNSW(config, live)
        case .ivf, .pq: return buildIVF(config, live)
        }
    }

    static func hnswParameters(_ config: CollectionConfig) -> HNSWIndex.Parameters {
        let setting = { (key: String, fallback: Int) in config.setting(key).map { Int($0) } ?? fallback }
        return HNSWIndex.Parameters(m: max(4, min(64, setting("m", 16))), efConstruction: max(16, min(1000, setting("ef_construction", 200))))
    }

    static func buildHNSW(_ config: CollectionConfig, _ live: [SegmentRow]) -> SegmentIndex {
        var index = HNSWIndex(metric: config.distanceMetric, dimension: config.dimension, parameters: hnswParameters(config))
        for row in live { index.add(row.record.vector) }
        return SegmentIndex(
            structure: .hnsw(index), nodeIds: live.map(\.record.id), nodeVersions: live.map(\.record.version), calibration: index.calibrate())
    }

    static func buildIVF(_ config: CollectionConfig, _ live: [SegmentRow]) -> SegmentIndex {
        let dim = config.dimension
        var vectors: [Float] = []
        vectors.reserveCapacity(live.count * dim)
        for row in live { vectors += row.record.vector }
        let lists = max(1, min(live.count / 8, config.setting("n_lists").map { Int($0) } ?? Int(4 * Double(live.count).squareRoot())))
        let quantization = config.settings["quantization"]?.string ?? (config.indexingAlgorithm == .pq ? "pq" : "sq8")
        let codes: IVFIndex.Codes = switch quantization {
        case "pq": .pq
        case "binary": .rabitq
        case "flat": .flat
        default: .sq8
        }
        var subspaces = config.setting("pq_subvectors").map { Int($0) }
        if let m = subspaces, m < 1 || dim % m != 0 { subspaces = nil }
        // Nodes in list order: the node table is the id array the index would otherwise keep.
        let (index, order) = IVFIndex(
            vectors: vectors, count: live.count, metric: config.distanceMetric, dimension: dim,
            parameters: .init(nLists: lists, codes: codes, pqSubspaces: subspaces)
        ).renumberedByPosition()
        let nodes = order.map { live[Int($0)] }
        return SegmentIndex(
            structure: .ivf(index), nodeIds: nodes.map(\.record.id), nodeVersions: nodes.map(\.record.version),
            calibration: index.calibrate(rerank: index.suggestedRerank))
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
        switch structure {
        case .hnsw(let index):
            return index.search(query, k: k, ef: max(calibrated ?? width.ef, k), accept: accept, plan: plan).map { ($0.slot, $0.distance) }
        case .ivf(let index):
            return index.search(query, k: k, nProbes: calibrated ?? width.probes, rerank: index.suggestedRerank, accept: accept, plan: plan)
                .map { (Int32($0.slot), $0.distance) }
        }
    }

    // MARK: file

    static let magic: [UInt8] = Array("PXSIDX02".utf8)
    /// Files from before calibration: the same without its points.
    static let uncalibratedMagic: [UInt8] = Array("PXSIDX01".utf8)

    /// `PXSIDX02`, u32 kind, u64 nodes, u32 calibration points, (u32 width, f32 recall) each, versions (i64 × nodes),
    /// ids (u32 length + UTF-8 each), padding to 64, index bytes.
    func encode() -> [UInt8] {
        var out = Self.magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        u32(kind == .hnsw ? 1 : 2)
        u64(UInt64(nodeIds.count))
        u32(UInt32(calibration.points.count))
        for point in calibration.points {
            u32(UInt32(point.width))
            u32(point.recall.bitPattern)
        }
        for v in nodeVersions { u64(UInt64(bitPattern: v)) }
        for id in nodeIds {
            u32(UInt32(id.utf8.count))
            out += id.utf8
        }
        while out.count % 64 != 0 { out.append(0) }
        switch structure {
        case .hnsw(let index): out += index.serialized()
        case .ivf(let index): out += index.serialized()
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(FormatError) -> SegmentIndex {
        var p = 0
        func take(_ n: Int) throws(FormatError) -> ArraySlice<UInt8> {
            guard n >= 0, p + n <= bytes.count else { throw FormatError("segment index truncated") }
            defer { p += n }
            return bytes[p..<(p + n)]
        }
        func u32() throws(FormatError) -> UInt32 { try take(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian } }
        func u64() throws(FormatError) -> UInt64 { try take(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian } }
        let version = Array(try take(8))
        guard version == magic || version == uncalibratedMagic else { throw FormatError("not a segment index") }
        let kind = try u32()
        let n = Int(clamping: try u64())
        guard n <= bytes.count / 12 else { throw FormatError("segment index node count \(n) is impossible") }
        var points: [RecallCalibration.Point] = []
        if version == magic {
            let count = Int(try u32())
            guard count <= 64 else { throw FormatError("segment index calibration has \(count) points") }
            for _ in 0..<count {
                let width = Int(try u32()), recall = Float(bitPattern: try u32())
                guard width >= 1, recall >= 0, recall <= 1 else { throw FormatError("bad calibration point") }
                points.append(.init(width: width, recall: recall))
            }
        }
        var versions: [Int64] = []
        versions.reserveCapacity(n)
        for _ in 0..<n { versions.append(Int64(bitPattern: try u64())) }
        var ids: [String] = []
        ids.reserveCapacity(n)
        for _ in 0..<n {
            let length = Int(try u32())
            guard let id = String(validating: try take(length), as: UTF8.self) else { throw FormatError("node id is not UTF-8") }
            ids.append(id)
        }
        while p % 64 != 0 { _ = try take(1) }
        let body = Array(bytes[p...])
        let structure: Structure
        do {
            switch kind {
            case 1: structure = .hnsw(try HNSWIndex(serialized: body))
            case 2: structure = .ivf(try IVFIndex(serialized: body))
            default: throw FormatError("unknown segment index kind \(kind)")
            }
        } catch let e as FormatError {
            throw e
        } catch {
            throw FormatError("segment index: \(error)")
        }
        let count: Int
        switch structure {
        case .hnsw(let index): count = index.count
        case .ivf(let index): count = index.count
        }
        guard count == n else { throw FormatError("segment index has \(count) nodes, its table \(n)") }
        return SegmentIndex(structure: structure, nodeIds: ids, nodeVersions: versions, calibration: RecallCalibration(points: points))
    }
}
