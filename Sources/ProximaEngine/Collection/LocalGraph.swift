import Foundation
import ProximaCloud
import ProximaCore
import ProximaFormat
import ProximaIndex
import Synchronization

/// A graph segment's HNSW graph, searched where the local-disk cache holds
/// it (mapped, with the segment's data file mapped for the vectors) once it
/// is there: until then, and whenever it cannot be, the segment's route
/// serves (`ColdParts.index`). The copy to local disk starts when the
/// segment is opened under a memory budget, in the background, if the graph
/// and data fit the budget's share for mappings (`MappedBytes`): every page
/// of a mapping may become resident. The graph is stored compact (Rice-coded
/// links, `PXHNSW03`); the disk keeps it expanded to the flat form
/// (`PXHNSW02`), which a search reads in place.
final class LocalGraph: Sendable {
    /// The graph mapped and ready.
    struct Ready: Sendable {
        let graph: MappedGraph
        /// Per node, its row in the segment (file order).
        let nodeRows: [Int32]
        let calibration: RecallCalibration
        let reservations: [MappedBytes.Reservation]
    }

    private let ready = Mutex<Ready?>(nil)
    private let loading = Mutex<Task<Void, Never>?>(nil)
    private let searches = Atomic<Int>(0)

    var current: Ready? { ready.withLock { $0 } }
    /// Searches the mapped graph answered (for tests and metrics).
    var searchCount: Int { searches.load(ordering: .relaxed) }

    /// Waits for the copy and mapping started at open, if any.
    func settle() async { await loading.withLock { $0 }?.value }

    /// Starts copying the segment's graph and data to the local disk and
    /// mapping them, when `storage` has a disk tier and `limit` (bytes this
    /// process may map) has room for both.
    static func start(
        segment: Manifest.Segment, storage: any CloudStorage, layout: StorageLayout, config: CollectionConfig,
        vectorLayout: SegmentCodec.VectorLayout, limit: Int?
    ) -> LocalGraph? {
        guard let limit, let caching = storage as? CachingStorage, caching.diskTier != nil,
            let graphFile = segment.index, graphFile.kind == SegmentIndex.Kind.hnsw.rawValue
        else { return nil }
        let local = LocalGraph()
        let graphKey = layout.segmentIndexKey(config.id, segment: segment.id, kind: graphFile.kind)
        let dataKey = layout.segmentDataKey(config.id, segment: segment.id)
        let task = Task.detached(priority: .background) { [local] in
            guard let reservation = MappedBytes.shared.reserve(graphFile.bytes + segment.bytes, limit: limit),
                let graphBytes = await caching.mapLocally(graphKey + ".flat", madeFrom: graphKey, by: { try flatGraph($0, file: graphFile) }),
                let dataBytes = await caching.mapLocally(dataKey, size: segment.bytes),
                // The flat graph is larger than the stored one: the rest of its share, if there is room.
                let rest = MappedBytes.shared.reserve(max(0, graphBytes.bytes.count - graphFile.bytes), limit: limit)
            else { return }
            let opened = try? await ComputeQueue.inBackground {
                try open(graph: graphBytes, data: dataBytes, segment: segment, vectorLayout: vectorLayout, dimension: config.dimension)
            }
            guard let (graph, head) = opened else { return }
            local.ready.withLock {
                $0 = Ready(
                    graph: graph, nodeRows: head.nodeRows, calibration: RecallCalibration(points: head.calibration),
                    reservations: [reservation, rest])
            }
        }
        local.loading.withLock { $0 = task }
        return local
    }

    /// The stored graph file (checked against its manifest entry) with its
    /// graph in the flat form `MappedGraph` searches (segments store it compact).
    private static func flatGraph(_ stored: [UInt8], file: Manifest.IndexFile) throws -> [UInt8] {
        guard stored.count == file.bytes, CRC32C.checksum(stored) == file.crc32c else {
            throw FormatError("the stored graph does not match its manifest")
        }
        var decoded = try SegmentIndexFile.decode(stored)
        guard decoded.kind == SegmentIndex.Kind.hnsw.fileCode else { throw FormatError("not a graph index") }
        decoded.body = try HNSWIndex.mappable(decoded.body)
        return decoded.encode()
    }

    /// The graph over its flat file and the segment's mapped data, checked
    /// against the manifest's checksum (the disk tier checked its copy, not
    /// what the store gave it; the flat graph was checked as it was made).
    private static func open(
        graph: MappedValue, data: MappedValue, segment: Manifest.Segment, vectorLayout: SegmentCodec.VectorLayout, dimension: Int
    ) throws -> (MappedGraph, SegmentIndexFile.Head) {
        guard data.bytes.count == segment.bytes, CRC32C.checksum(data.bytes) == segment.crc32c else {
            throw FormatError("a cached copy of segment \(segment.id) does not match its manifest")
        }
        let prefix = Array(graph.bytes.prefix(1024))
        var (head, needed) = try SegmentIndexFile.head(prefix, fileSize: graph.bytes.count)
        if head == nil, needed > prefix.count, needed <= graph.bytes.count {
            (head, needed) = try SegmentIndexFile.head(Array(graph.bytes.prefix(needed)), fileSize: graph.bytes.count)
        }
        guard let head, head.kind == SegmentIndex.Kind.hnsw.fileCode else { throw FormatError("not a graph index") }
        let base = data.bytes.baseAddress!
        let vectorOf = try head.nodeRows.map { row -> UnsafePointer<Float> in
            guard let range = vectorLayout.range(ofRow: Int(row)), range.upperBound <= data.bytes.count, range.count == dimension * 4 else {
                throw FormatError("graph node row \(row) has no vector in its segment")
            }
            // Float loads from the file's offsets, aligned or not (the kernels load unaligned).
            return UnsafePointer((base + range.lowerBound).assumingMemoryBound(to: Float.self))
        }
        let body = UnsafeRawBufferPointer(rebasing: graph.bytes[head.bodyOffset...])
        let mapped = try MappedGraph(body: body, vectorOf: vectorOf, owners: [graph, data])
        guard mapped.dimension == dimension else { throw FormatError("graph of \(mapped.dimension) dimensions") }
        return (mapped, head)
    }

    /// Candidates of the graph at `width`, each with its row and vector;
    /// nil when a filter this selective is better served by the route (the
    /// exact plan over its matches reads only theirs).
    func search(
        _ ready: Ready, _ query: [Float], k: Int, width: SegmentIndex.Width, filtered: Bool, visible: @escaping (Int) -> Bool
    ) -> [(row: Int, distance: Float, vector: [Float])]? {
        let nodeRows = ready.nodeRows
        let accept = { (node: Int32) in visible(Int(nodeRows[Int(node)])) }
        var ef = width.targetRecall.flatMap { ready.calibration.width(for: $0) } ?? width.ef
        if filtered {
            switch FilterPlan.choose(count: nodeRows.count, selectivity: FilterPlan.selectivity(count: nodeRows.count, accept: accept), exactBelowMatches: true) {
            case .filterFirst: return nil
            case .widened(let factor): ef = Int((Double(max(ef, k)) * factor).rounded(.up))
            }
        }
        searches.add(1, ordering: .relaxed)
        return ready.graph.search(query, k: k, ef: ef, accept: accept).map {
            (Int(nodeRows[Int($0.slot)]), $0.distance, ready.graph.vector(of: $0.slot))
        }
    }
}

/// Bytes this process has mapped for graph searches, bounded by a share of
/// the memory budget: mapped pages count in resident memory once touched.
final class MappedBytes: Sendable {
    static let shared = MappedBytes()
    private let total = Mutex(0)

    /// Holds `bytes` of the bound until released.
    final class Reservation: Sendable {
        let bytes: Int
        let owner: MappedBytes
        init(_ bytes: Int, _ owner: MappedBytes) { (self.bytes, self.owner) = (bytes, owner) }
        deinit { owner.total.withLock { $0 -= bytes } }
    }

    func reserve(_ bytes: Int, limit: Int) -> Reservation? {
        let granted = total.withLock { t in
            guard t + bytes <= limit else { return false }
            t += bytes
            return true
        }
        return granted ? Reservation(bytes, self) : nil
    }
}
