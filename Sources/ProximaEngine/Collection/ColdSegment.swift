import Foundation
import ProximaCloud
import ProximaCore
import ProximaFormat
import ProximaIndex
import Synchronization

/// What of a segment stays in the object store when it is opened cold: its
/// vectors and its IVF index's posting lists, read by range (through the
/// cache tiers) when a query needs them. In memory are only the rows' ids,
/// versions, expiries and metadata, the index's prefix (centroids, list
/// offsets) and its node table.
struct ColdParts: Sendable {
    let vectors: ColdVectors
    /// The IVF index searched by range; nil when the segment has none.
    let index: IVFIndex.RangedFile?
    /// Per index node, the segment row it stands for.
    let nodeRows: [Int32]
    let calibration: RecallCalibration
    /// A graph segment's graph, searched in place once the local disk holds it (nil: never).
    let graph: LocalGraph?

    /// Lists a search at `width` probes: the recall the request targets, as this index measured it at build.
    func probes(_ width: SegmentIndex.Width) -> Int { Self.probes(width, calibration) }

    static func probes(_ width: SegmentIndex.Width, _ calibration: RecallCalibration) -> Int {
        width.targetRecall.flatMap { calibration.width(for: $0) } ?? width.probes
    }
}

/// The queries a search that opens a collection cold is for. Opening a
/// segment starts reading the posting lists they will probe as soon as it
/// has the index's centroids, and decodes the segment's rows meanwhile: the
/// search then finds those lists read (at 1M rows the decoding takes about
/// a round trip, so the lists' round costs no time of its own).
struct ColdQueryHint: Sendable {
    var queries: [[Float]]
    var targetRecall: Double?
    @TaskLocal static var current: ColdQueryHint?
}

/// A value known later than the closure that reads it is made.
final class SetOnce<Value: Sendable>: Sendable {
    private let stored = Mutex<Value?>(nil)
    func set(_ value: Value) { stored.withLock { $0 = value } }
    func value() throws -> Value {
        guard let value = stored.withLock({ $0 }) else { throw FormatError("read before the segment finished opening") }
        return value
    }
}

/// Reads started before anyone asked for them (`ColdQueryHint`), each
/// handed to the first read of its range. What the search does not take
/// (it probes as the hint did, unless a filter changed its plan) stays until
/// the segment is dropped: one query's lists at most.
final class EarlyReads: Sendable {
    private let reads = Mutex<[Range<Int>: Task<[UInt8], any Error>]>([:])

    func start(_ range: Range<Int>, _ read: @escaping @Sendable () async throws -> [UInt8]) {
        reads.withLock { reads in
            if reads[range] == nil { reads[range] = Task { try await read() } }
        }
    }

    /// The bytes of `range` if a read of it was started early and succeeded.
    func take(_ range: Range<Int>) async -> [UInt8]? {
        guard let task = reads.withLock({ $0.removeValue(forKey: range) }) else { return nil }
        return try? await task.value
    }
}

/// A segment's live-row vectors, read by range from its data file at the
/// offsets its footer's `vector_pages` give (`SegmentCodec.VectorLayout`).
struct ColdVectors: Sendable {
    let dimension: Int
    let layout: SegmentCodec.VectorLayout
    /// Bytes of the segment's data file.
    let read: @Sendable (Range<Int>) async throws -> [UInt8]

    /// Rows whose byte ranges are this close are read as one range.
    static let coalesceGap = 4096
    /// No single read longer than this (a scan streams through the file in reads this long).
    static let maxRead = 8 << 20
    /// Reads in flight at once during a scan: bounds what a scan holds in memory.
    static let scanConcurrency = 4

    /// Live rows' byte ranges, merged when close, each merged range with the rows it covers.
    func plan(_ rows: [Int]) throws -> [(range: Range<Int>, rows: [Int])] {
        var located: [(Range<Int>, Int)] = []
        located.reserveCapacity(rows.count)
        for r in rows {
            guard let range = layout.range(ofRow: r) else { throw FormatError("row \(r) has no vector in its segment") }
            located.append((range, r))
        }
        located.sort { $0.0.lowerBound < $1.0.lowerBound }
        var out: [(range: Range<Int>, rows: [Int])] = []
        for (range, r) in located {
            if let last = out.last, range.lowerBound <= last.range.upperBound + Self.coalesceGap,
                range.upperBound - last.range.lowerBound <= Self.maxRead
            {
                out[out.count - 1].range = last.range.lowerBound..<max(last.range.upperBound, range.upperBound)
                out[out.count - 1].rows.append(r)
            } else {
                out.append((range, [r]))
            }
        }
        return out
    }

    /// The vectors of `rows` (live rows, any order), in that order: every read issued at once.
    func vectors(_ rows: [Int]) async throws -> [[Float]] {
        guard !rows.isEmpty else { return [] }
        let pieces = try plan(rows)
        let read = self.read
        var found: [Int: [Float]] = [:]
        try await withThrowingTaskGroup(of: [(Int, [Float])].self) { group in
            for piece in pieces {
                group.addTask { try extract(piece, try await read(piece.range)) }
            }
            for try await part in group { for (r, v) in part { found[r] = v } }
        }
        return try rows.map { r in
            guard let v = found[r] else { throw FormatError("row \(r) was not read") }
            return v
        }
    }

    /// The floats of each row of `piece` from the bytes read for it.
    private func extract(_ piece: (range: Range<Int>, rows: [Int]), _ bytes: [UInt8]) throws -> [(Int, [Float])] {
        guard bytes.count == piece.range.count else { throw FormatError("short read of a segment's vectors") }
        let dim = dimension
        return try piece.rows.map { r in
            guard let range = layout.range(ofRow: r) else { throw FormatError("row \(r) has no vector") }
            let at = range.lowerBound - piece.range.lowerBound
            let v = [Float](unsafeUninitializedCapacity: dim) { out, n in
                bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at..<(at + dim * 4)])) }
                n = dim
            }
            return (r, v)
        }
    }

    /// Exact top-k over `rows` by `metric`, reading their vectors in
    /// sequential ranges a few at a time (memory stays bounded however many
    /// rows there are); each hit with its vector.
    func scan(_ rows: [Int], query: [Float], k: Int, metric: DistanceMetric) async throws -> [(row: Int, distance: Float, vector: [Float])] {
        guard k > 0, !rows.isEmpty else { return [] }
        let pieces = try plan(rows)
        let dim = dimension
        let qInv = query.withUnsafeBufferPointer { DistanceKernels.inverseNorm($0.baseAddress!, dim) }
        var top = TopK(k: k)
        var kept: [Int: [Float]] = [:]
        let read = self.read
        var next = 0
        try await withThrowingTaskGroup(of: [(Int, [Float])].self) { group in
            func start() {
                guard next < pieces.count else { return }
                let piece = pieces[next]
                next += 1
                group.addTask { try extract(piece, try await read(piece.range)) }
            }
            for _ in 0..<Self.scanConcurrency { start() }
            for try await part in group {
                query.withUnsafeBufferPointer { q in
                    for (r, v) in part {
                        let d = v.withUnsafeBufferPointer { p in
                            metric.distance(
                                q.baseAddress!, p.baseAddress!, dimension: dim, inverseNormA: qInv,
                                inverseNormB: DistanceKernels.inverseNorm(p.baseAddress!, dim))
                        }
                        if top.accepts(d) {
                            top.insert(slot: r, distance: d)
                            kept[r] = v
                        }
                    }
                }
                start()
            }
        }
        return top.sorted().map { ($0.slot, $0.distance, kept[$0.slot]!) }
    }
}

extension SegmentIO {
    /// Opens a segment without reading its vectors or its index's posting
    /// lists: in one round, the data file's last range (row columns and
    /// footer, from the manifest's `rowsOffset`) and the index file's head
    /// (node table and IVF prefix); files from before `rowsOffset` take a
    /// second round for their row columns. Nil when the segment cannot be served
    /// cold (no index, a graph index without a route, or files from before
    /// computable vector offsets): the caller loads it whole.
    ///
    /// `graphLimit`: bytes this process may map for searching graphs where
    /// the local disk holds them (nil: graph segments are always served by
    /// their route).
    func openCold(_ segment: Manifest.Segment, graphLimit: Int? = nil) async throws -> LoadedSegment? {
        let dataKey = layout.segmentDataKey(config.id, segment: segment.id)
        let storage = self.storage
        let readData: @Sendable (Range<Int>) async throws -> [UInt8] = { range in
            let bytes = try await storage.get(dataKey, range: range).bytes
            guard bytes.count == range.count else { throw FormatError("short read of segment data") }
            return bytes
        }
        let tailBytes = min(segment.bytes, 64 << 10)
        do {
            // Segments without an index are small (or the collection asked for exact search): loaded whole.
            // A graph's segment is served through its route (an IVF file over the same nodes).
            guard let indexFile = segment.coldIndex else { return nil }
            // The file's last range: the row columns and footer when the manifest says where they start, else a guess at the footer.
            let tailStart = segment.rowsOffset ?? (segment.bytes - tailBytes)
            async let tail = readData(tailStart..<segment.bytes)
            let key = layout.segmentIndexKey(config.id, segment: segment.id, kind: indexFile.kind)
            // The head (node table) and, after it, the IVF prefix: centroids of about 4·√n lists (the
            // default) with their radii and offsets, and PQ's codebooks where the codes are likely PQ
            // (a graph's route by default), guessed long enough that one read takes them all.
            let lists = 4 * Int(Double(segment.rows).squareRoot()) + 1
            let codebooks = segment.route != nil || config.settings["quantization"]?.string == "pq" ? config.dimension * 256 * 4 : 0
            let guess = min(indexFile.bytes, 1024 + segment.rows * 4 + lists * (config.dimension * 4 + 12) * 5 / 4 + codebooks + (64 << 10))
            var prefix = try await storage.get(key, range: 0..<guess).bytes
            var (head, needed) = try SegmentIndexFile.head(prefix, fileSize: indexFile.bytes)
            if head == nil, needed > prefix.count {
                prefix += try await storage.get(key, range: prefix.count..<needed).bytes
                (head, needed) = try SegmentIndexFile.head(prefix, fileSize: indexFile.bytes)
            }
            guard let head, head.kind == SegmentIndex.Kind.ivf.fileCode else { return nil }
            // The index opens from its prefix (the vectors it reranks come from the data file, whose layout
            // the footer in the last range gives).
            let vectorSource = SetOnce<ColdVectors>()
            let body = head.bodyOffset
            let held = Array(prefix[body...])
            let nodeRows = head.nodeRows
            let early = EarlyReads()
            let fetch: @Sendable (Range<Int>) async throws -> [UInt8] = { range in
                try await storage.get(key, range: (range.lowerBound + body)..<(range.upperBound + body)).bytes
            }
            let readIndex: @Sendable (Range<Int>) async throws -> [UInt8] = { range in
                if range.upperBound <= held.count { return Array(held[range]) }
                if let bytes = await early.take(range) { return bytes }
                return try await fetch(range)
            }
            let (index, _) = try await IVFIndex.RangedFile.open(
                size: indexFile.bytes - body, prefixGuess: held.count,
                read: readIndex,
                vectors: { positions in
                    try await vectorSource.value().vectors(try positions.map { p in
                        guard p >= 0, p < nodeRows.count else { throw FormatError("index position \(p) outside its node table") }
                        return Int(nodeRows[p])
                    })
                })
            let calibration = RecallCalibration(points: head.calibration)
            if let hint = ColdQueryHint.current {
                // Started before the row columns are awaited: these reads overlap their arrival and decoding.
                let probes = ColdParts.probes(OpenCollection.width(config, targetRecall: hint.targetRecall), calibration)
                for query in hint.queries {
                    for range in index.listRanges(query, nProbes: probes) where range.upperBound > held.count && !range.isEmpty {
                        early.start(range) { try await fetch(range) }
                    }
                }
            }
            var last = (range: tailStart..<segment.bytes, bytes: try await tail)
            let footerBytes = try ParquetFile.footerBytes(tail: last.bytes, fileSize: segment.bytes)
            if footerBytes > last.bytes.count {
                last = ((segment.bytes - footerBytes)..<segment.bytes, try await readData((segment.bytes - footerBytes)..<segment.bytes))
            }
            let file = try ParquetFile(tail: last.bytes, fileSize: segment.bytes)
            let info = try SegmentCodec.info(file)
            guard let vectorLayout = SegmentCodec.VectorLayout(info: info), vectorLayout.dimension == config.dimension else { return nil }
            // Row columns the last range did not hold (files from before `rowsOffset`): close ranges merged, read together.
            var ranges: [Range<Int>] = []
            for column in try SegmentCodec.rowColumns(file) { ranges += try file.chunkRanges(column) }
            let missing = Self.merge(ranges.filter { !last.range.contains($0.lowerBound) }, gap: 64 << 10)
            let pieces = try await withThrowingTaskGroup(of: (Range<Int>, [UInt8]).self) { group in
                for r in missing { group.addTask { (r, try await readData(r)) } }
                var out = [last]
                for try await piece in group { out.append(piece) }
                return out
            }
            let cold = ColdVectors(dimension: config.dimension, layout: vectorLayout, read: readData)
            vectorSource.set(cold)
            let graph = LocalGraph.start(
                segment: segment, storage: storage, layout: layout, config: config, vectorLayout: vectorLayout, limit: graphLimit)
            let parts = ColdParts(vectors: cold, index: index, nodeRows: nodeRows, calibration: calibration, graph: graph)
            let (id, dimension, rows) = (segment.id, config.dimension, segment.rows)
            // Decoding the row columns and building the segment's row table: one trip to the compute queue.
            return try await ComputeQueue.run {
                let columns = try SegmentCodec.decodeRowColumns(file) { _, range in
                    guard let piece = pieces.first(where: { $0.0.lowerBound <= range.lowerBound && range.upperBound <= $0.0.upperBound }) else {
                        throw FormatError("column chunk \(range) was not read")
                    }
                    return (piece.1, piece.0.lowerBound)
                }
                guard columns.count == rows else { throw FormatError("\(columns.count) rows, manifest says \(rows)") }
                return try LoadedSegment(id: id, columns: columns, dimension: dimension, cold: parts)
            }
        } catch let e as StorageError where e.kind == .notFound {
            throw Missing(segment: segment.id)
        } catch let e as FormatError {
            throw ProximaError(.storageCorrupted, "segment \(segment.id) of '\(config.name)' is damaged: \(e)")
        }
    }

    /// Ranges sorted and merged where they lie within `gap` bytes of each other.
    static func merge(_ ranges: [Range<Int>], gap: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !r.isEmpty {
            if let last = out.last, r.lowerBound <= last.upperBound + gap {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }
}

extension Manifest.Segment {
    /// The IVF file a cold reader searches by ranged reads: the index itself,
    /// or a graph's route; nil when the segment has neither.
    var coldIndex: Manifest.IndexFile? {
        let ivf = SegmentIndex.Kind.ivf.rawValue
        if let index, index.kind == ivf { return index }
        if let route, route.kind == ivf { return route }
        return nil
    }
}
