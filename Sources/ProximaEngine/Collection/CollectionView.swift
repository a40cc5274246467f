import Dispatch
import Foundation
import ProximaCore
import Synchronization
import ProximaFormat
import ProximaIndex

/// A snapshot of a collection as of one WAL sequence: the manifest's
/// segments (shared, immutable) with a mask of the rows something newer
/// replaced, and the WAL tail after them. A value: a query takes one and
/// searches it without holding the collection, while writes go on and change
/// only their own copy (the masks and the tail chunk they touch).
struct CollectionView: Sendable {
    struct SegmentView: Sendable {
        let data: LoadedSegment
        /// Rows not to answer: tombstones, and rows a newer segment or the tail replaces.
        var masked: Bitset
    }

    let dimension: Int
    let metric: DistanceMetric
    private(set) var segments: [SegmentView] = []
    private(set) var tail: WALTail

    init(dimension: Int, metric: DistanceMetric) {
        self.dimension = dimension
        self.metric = metric
        tail = WALTail(dimension: dimension)
    }

    /// Segments in manifest order (a later one's rows win), masked against each other.
    init(dimension: Int, metric: DistanceMetric, segments: [LoadedSegment]) {
        self.init(dimension: dimension, metric: metric)
        var masks = segments.map { s in
            var m = s.shadowed
            for r in 0..<s.count where s.tombstones[r] { m[r] = true }
            return m
        }
        // Each pair once, from the smaller side: rows of the older segment whose id the newer one holds.
        for j in segments.indices {
            for i in 0..<j {
                let (older, newer) = (segments[i], segments[j])
                guard let a = older.idBounds, let b = newer.idBounds,
                    !a.greatest.precedesInUTF8(b.least), !b.greatest.precedesInUTF8(a.least)
                else { continue }  // no id in common
                if let rows = older.rows(alsoIn: newer) {
                    for r in rows { masks[i][r] = true }
                } else if newer.count <= older.count {
                    for id in newer.ids { if let r = older.row(of: id) { masks[i][r] = true } }
                } else {
                    for r in 0..<older.count where newer.row(of: older.ids[r]) != nil { masks[i][r] = true }
                }
            }
        }
        self.segments = zip(segments, masks).map { SegmentView(data: $0, masked: $1) }
    }

    // MARK: changes (made by `CollectionState`)

    /// Masks the newest segment row holding `id` (a write in the tail replaces it).
    mutating func maskSegmentRow(of id: String) {
        for i in segments.indices.reversed() {
            if let r = segments[i].data.row(of: id) {
                segments[i].masked[r] = true
                return
            }
        }
    }

    mutating func appendTail(_ record: VectorRecord, deleted: Bool, sequence: Int64) -> Int {
        tail.append(record, deleted: deleted, sequence: sequence)
    }

    mutating func markTailSuperseded(_ row: Int) { tail.markSuperseded(row) }

    // MARK: reads

    /// The newest segment row for `id`: the record, or nil when deleted,
    /// replaced by the tail, or absent (`found` says whether any segment names it).
    func segmentRecord(_ id: String) -> (found: Bool, record: VectorRecord?) {
        for s in segments.reversed() {
            guard let r = s.data.row(of: id) else { continue }
            if s.masked[r] { return (true, nil) }
            return (true, s.data.record(at: r))
        }
        return (false, nil)
    }

    /// Calls `body` with every visible (neither deleted nor replaced) record
    /// position: `.segment(i, row)` or `.tail(row)`, with its expiry and metadata.
    func forEachVisible(_ body: (Position, Int64, [String: JSONValue]) -> Void) {
        for (i, s) in segments.enumerated() {
            let data = s.data
            s.masked.forEachClear { r in body(.segment(i, r), data.expiresAt[r], data.metadata[r]) }
        }
        for (c, chunk) in tail.chunks.enumerated() {
            for j in 0..<chunk.count where chunk.isVisible(j) {
                body(.tail(c * WALTail.chunkRows + j), chunk.expiresAt[j], chunk.metadata[j])
            }
        }
    }

    enum Position: Hashable {
        case segment(Int, Int)
        case tail(Int)
    }

    func record(at p: Position) -> VectorRecord {
        switch p {
        case .segment(let i, let r): segments[i].data.record(at: r)
        case .tail(let t): tail.record(at: t)
        }
    }

    /// Visible rows (neither deleted nor replaced), and how many of them have
    /// not expired at `now`: from the masks and the expiry column alone. This
    /// answers `GET /collections/{name}`, which monitoring polls; walking every
    /// record with its metadata took tens of milliseconds at a million rows.
    func visibleCounts(now: Int64) -> (visible: Int, live: Int) {
        var visible = 0, expired = 0
        for s in segments {
            let masked = s.masked
            visible += s.data.count - masked.setCount
            s.data.expiresAt.withUnsafeBufferPointer { e in
                for r in e.indices where e[r] <= now && !masked[r] { expired += 1 }
            }
        }
        for chunk in tail.chunks {
            for j in 0..<chunk.count where chunk.isVisible(j) {
                visible += 1
                if chunk.expiresAt[j] <= now { expired += 1 }
            }
        }
        return (visible, visible - expired)
    }

    var indexedSegments: Int { segments.count { $0.data.isIndexed } }
    var localGraphSegments: Int { segments.count { $0.data.cold?.graph?.current != nil } }

    // MARK: search

    struct Hit: Sendable {
        var record: VectorRecord
        var distance: Float
    }

    /// Top-k over live, unexpired records passing `filter`: through each
    /// segment's index at `width`, exactly over the rest (unindexed segments,
    /// the tail); exactly over everything when `width` is nil. Segments
    /// opened cold are searched by ranged reads, all issued while the
    /// resident ones are searched on the compute queue.
    func search(_ query: [Float], k: Int, filter: Filter?, now: Int64, width: SegmentIndex.Width?) async throws -> [Hit] {
        guard k > 0 else { return [] }
        let filter = filter.flatMap { $0.isTrivial ? nil : $0 }
        let view = self
        async let resident = ComputeQueue.run { view.searchResident(query, k: k, filter: filter, now: now, width: width) }
        var coldVectors: [Int: [Float]] = [:]
        var top = TopK(k: k)
        let cold = segments.indices.filter { segments[$0].data.cold != nil }
        if !cold.isEmpty {
            try await withThrowingTaskGroup(of: [(slot: Int, distance: Float, vector: [Float])].self) { group in
                for i in cold { group.addTask { try await view.searchCold(i, query, k: k, filter: filter, now: now, width: width) } }
                for try await hits in group {
                    for h in hits {
                        top.insert(slot: h.slot, distance: h.distance)
                        coldVectors[h.slot] = h.vector
                    }
                }
            }
        }
        top.merge(await resident)
        let tailSource = segments.count
        return top.sorted().map { c in
            let source = c.slot >> 32, row = c.slot & 0xFFFF_FFFF
            let p: Position = source == tailSource ? .tail(row) : .segment(source, row)
            var record = record(at: p)
            if let v = coldVectors[c.slot] { record.vector = v }
            return Hit(record: record, distance: c.distance)
        }
    }

    /// Candidates (slots `source << 32 | row`) of the segments held in memory
    /// and of the tail. Each segment and each part of the tail is one piece
    /// of work, run on all cores: a query's cost is the sum over segments, and
    /// a collection that outgrows compaction's target holds many of them.
    private func searchResident(_ query: [Float], k: Int, filter: Filter?, now: Int64, width: SegmentIndex.Width?) -> TopK {
        let scan = FlatScan(metric: metric, dimension: dimension)
        let resident = segments.indices.filter { segments[$0].data.cold == nil }
        let chunks = tail.chunks.count
        let tailFloats = chunks * WALTail.chunkRows * dimension
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let tailParts = chunks == 0 ? 0 : max(1, min(cores, chunks, tailFloats / FlatScan.parallelChunkFloats))
        let pieces = resident.count + tailParts
        let view = self
        @Sendable func piece(_ p: Int) -> TopK {
            if p < resident.count {
                return view.searchSegment(resident[p], query, k: k, filter: filter, now: now, width: width, scan: scan)
            }
            let part = p - resident.count
            return view.searchTail(query, k: k, filter: filter, now: now, scan: scan, chunks: (part * chunks / tailParts)..<((part + 1) * chunks / tailParts))
        }
        // Below a chunk's worth of work in all, threads would cost more than they save.
        let work = resident.reduce(tailFloats) { sum, i in
            let data = segments[i].data
            return sum + (width != nil && data.index != nil ? FlatScan.parallelChunkFloats : data.count * dimension)
        }
        var top = TopK(k: k)
        if cores == 1 || pieces < 2 || work < FlatScan.parallelChunkFloats {
            for p in 0..<pieces { top.merge(piece(p)) }
            return top
        }
        let parts = Mutex([TopK?](repeating: nil, count: pieces))
        DispatchQueue.concurrentPerform(iterations: pieces) { p in
            let found = piece(p)
            parts.withLock { $0[p] = found }
        }
        // Merged in piece order, so equal distances resolve the same way every time.
        for p in parts.withLock({ $0 }) { if let p { top.merge(p) } }
        return top
    }

    /// Candidates of resident segment `i`: through its index at `width`, exactly otherwise.
    private func searchSegment(_ i: Int, _ query: [Float], k: Int, filter: Filter?, now: Int64, width: SegmentIndex.Width?, scan: FlatScan) -> TopK {
        let s = segments[i]
        let data = s.data, masked = s.masked
        let base = i << 32
        var top = TopK(k: k)
        if let width, let index = data.index {
            let nodeRows = data.nodeRows
            let hits = index.search(query, k: k, width: width, filtered: filter != nil) { node in
                let r = Int(nodeRows[Int(node)])
                return r >= 0 && !masked[r] && data.expiresAt[r] > now && (filter?.matches(data.metadata[r]) ?? true)
            }
            for h in hits { top.insert(slot: base | Int(nodeRows[Int(h.node)]), distance: h.distance) }
            // Rows no node stands for (none, unless the index and segment disagree) are scanned.
            query.withUnsafeBufferPointer { q in
                data.vectors.withUnsafeBufferPointer { v in
                    let qInv = DistanceKernels.inverseNorm(q.baseAddress!, dimension)
                    for r in data.unindexedRows where !masked[r] && data.expiresAt[r] > now && (filter?.matches(data.metadata[r]) ?? true) {
                        let d = metric.distance(
                            q.baseAddress!, v.baseAddress! + r * dimension, dimension: dimension, inverseNormA: qInv,
                            inverseNormB: data.inverseNorms[r])
                        top.insert(slot: base | r, distance: d)
                    }
                }
            }
            return top
        }
        let hits = data.vectors.withUnsafeBufferPointer { v in
            data.inverseNorms.withUnsafeBufferPointer { norms in
                scan.search(query: query, k: k, vectors: v.baseAddress ?? UnsafePointer(bitPattern: 16)!, inverseNorms: norms.baseAddress, count: data.count) { r in
                    !masked[r] && data.expiresAt[r] > now && (filter?.matches(data.metadata[r]) ?? true)
                }
            }
        }
        for h in hits { top.insert(slot: base | h.slot, distance: h.distance) }
        return top
    }

    /// Candidates of cold segment `i`, each with its vector (read for rerank
    /// or the exact scan): its IVF index searched by range as the resident
    /// index would be (same plan, same widths), the rows it does not cover
    /// scanned by range; every visible row scanned when `width` is nil.
    private func searchCold(
        _ i: Int, _ query: [Float], k: Int, filter: Filter?, now: Int64, width: SegmentIndex.Width?
    ) async throws -> [(slot: Int, distance: Float, vector: [Float])] {
        let s = segments[i]
        let data = s.data, masked = s.masked, cold = data.cold!
        let base = i << 32
        let visible = { (r: Int) in !masked[r] && data.expiresAt[r] > now && (filter?.matches(data.metadata[r]) ?? true) }
        var out: [(slot: Int, distance: Float, vector: [Float])] = []
        let scanned: [Int]
        if let width, let graph = cold.graph, let ready = graph.current,
            let hits = graph.search(ready, query, k: k, width: width, filtered: filter != nil, visible: { r in
                r >= 0 && !data.shadowed[r] && visible(r)
            })
        {
            for h in hits { out.append((base | h.row, h.distance, h.vector)) }
            scanned = data.unindexedRows.filter(visible)
        } else if let width, let index = cold.index {
            let nodeRows = data.nodeRows
            let accept = { (node: Int32) in
                let r = Int(nodeRows[Int(node)])
                return r >= 0 && visible(r)
            }
            let nodes = nodeRows.count
            let plan = FilterPlan.choose(
                count: nodes, selectivity: FilterPlan.selectivity(count: nodes, accept: accept), exactBelowMatches: filter != nil)
            let probes = cold.probes(width)
            let (hits, _) = try await index.search(query, k: k, nProbes: probes, rerank: index.defaultRerank, accept: accept, plan: plan)
            // Hits the search read no vector for (uncompressed lists) get theirs in one more round.
            let missing = hits.filter { $0.vector == nil }.map { Int(nodeRows[$0.slot]) }
            let read = Dictionary(zip(missing, try await cold.vectors.vectors(missing)), uniquingKeysWith: { a, _ in a })
            for h in hits {
                let r = Int(nodeRows[h.slot])
                out.append((base | r, h.distance, h.vector ?? read[r] ?? []))
            }
            scanned = data.unindexedRows.filter(visible)
        } else {
            scanned = (0..<data.count).filter { !data.tombstones[$0] && visible($0) }
        }
        for h in try await cold.vectors.scan(scanned, query: query, k: k, metric: metric) {
            out.append((base | h.row, h.distance, h.vector))
        }
        return out
    }

    /// Where a cold segment holds `id`'s newest visible row (its vector is read from there).
    func coldLocation(of id: String) -> (vectors: ColdVectors, row: Int)? {
        for s in segments.reversed() {
            guard let r = s.data.row(of: id) else { continue }
            guard !s.masked[r], let cold = s.data.cold else { return nil }
            return (cold.vectors, r)
        }
        return nil
    }

    /// Exact top-k of the visible rows in tail chunks `range` (slots `tail source << 32 | tail row`).
    private func searchTail(_ query: [Float], k: Int, filter: Filter?, now: Int64, scan: FlatScan, chunks range: Range<Int>) -> TopK {
        let chunks = tail.chunks
        let base = segments.count << 32
        var top = TopK(k: k)
        for c in range {
            let chunk = chunks[c]
            let hits = chunk.vectors.withUnsafeBufferPointer { v in
                chunk.inverseNorms.withUnsafeBufferPointer { norms in
                    scan.search(query: query, k: k, vectors: v.baseAddress ?? UnsafePointer(bitPattern: 16)!, inverseNorms: norms.baseAddress, count: chunk.count) { j in
                        chunk.isVisible(j) && chunk.expiresAt[j] > now && (filter?.matches(chunk.metadata[j]) ?? true)
                    }
                }
            }
            for h in hits { top.insert(slot: base | (c * WALTail.chunkRows + h.slot), distance: h.distance) }
        }
        return top
    }
}
