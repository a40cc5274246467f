import Synchronization
import Testing
@testable import ProximaCore
@testable import ProximaEngine
@testable import ProximaFormat
@testable import ProximaIndex

/// Segment indexes through their one protocol: built, stored, read back, and
/// (for the kinds that have one) searched cold through ranged reads.
@Suite struct SegmentIndexTests {
    func rows(_ n: Int, dim: Int) -> [SegmentRow] {
        var rng = SplitMix64(seed: 21)
        return (0..<n).map { i in
            SegmentRow(record: VectorRecord(id: "r\(i)", vector: (0..<dim).map { _ in Float.random(in: -1...1, using: &rng) }, version: Int64(i + 1)), deleted: false)
        }
    }

    /// Index files keep no vectors (the segment has the one copy): they open
    /// with the rows' vectors handed in, and search exactly as built.
    @Test(arguments: [CollectionConfig.IndexingAlgorithm.hnsw, .ivf], [DistanceMetric.euclidean, .cosine])
    func storedIndexesSearchAsBuilt(_ algorithm: CollectionConfig.IndexingAlgorithm, _ metric: DistanceMetric) throws {
        let config = try CollectionConfig(
            spec: CollectionSpec(name: "c", dimension: 16, distanceMetric: metric, indexingAlgorithm: algorithm), id: "id", now: 0)
        let segment = rows(3000, dim: 16)
        let built = try #require(SegmentIndex.build(config: config, rows: segment, minRows: 100))
        let file = built.encode()
        let withVectors = SegmentIndexFile(
            kind: built.kind.fileCode, nodeRows: built.nodeRows, calibration: built.calibration.points,
            body: built.index.serialized(includingVectors: true)
        ).encode()
        #expect(withVectors.count - file.count >= 3000 * 16 * 4, "the stored index keeps a copy of the vectors")
        #expect(file.count - built.index.serialized(includingVectors: false).count <= 3000 * 4 + 1024, "the node table is a row each")
        #expect(throws: FormatError.self) { try SegmentIndex.decode(file, rows: Array(segment.prefix(10))) }
        let read = try SegmentIndex.decode(file, rows: segment)
        // Files from before row tables (ids and versions, vectors inside) still open, onto the same rows.
        let legacy = SegmentIndexFile(
            kind: built.kind.fileCode, nodeIds: built.nodeIds, nodeVersions: built.nodeVersions, calibration: built.calibration.points,
            body: built.index.serialized(includingVectors: true)
        ).encode()
        #expect(try SegmentIndex.decode(legacy, rows: segment).nodeRows == built.nodeRows)
        #expect(read.kind == built.kind && read.nodeIds == built.nodeIds && read.nodeVersions == built.nodeVersions)
        #expect(read.calibration == built.calibration && !read.calibration.points.isEmpty)
        let query = rows(1, dim: 16)[0].record.vector
        let width = SegmentIndex.Width(ef: 64, probes: 8)
        let a = built.search(query, k: 10, width: width, filtered: false) { _ in true }
        let b = read.search(query, k: 10, width: width, filtered: false) { _ in true }
        #expect(a.map { $0.node } == b.map { $0.node } && a.count == 10)
    }

    @Test func ivfSearchesColdThroughRangedReadsAsItDoesInMemory() async throws {
        let config = try CollectionConfig(
            spec: CollectionSpec(name: "c", dimension: 16, distanceMetric: .euclidean, indexingAlgorithm: .ivf), id: "id", now: 0)
        let built = try #require(SegmentIndex.build(config: config, rows: rows(3000, dim: 16), minRows: 100))
        let body = built.index.serialized(includingVectors: false)
        // Rerank vectors come from the segment's own data file, each read by its byte range.
        let segment = try SegmentCodec.encode(rows(3000, dim: 16), dimension: 16, fields: [])
        let decoded = try SegmentCodec.decode(segment)
        let layout = try #require(SegmentCodec.VectorLayout(info: decoded.info))
        // Nodes name their rows: no id table is needed to find a candidate's vector.
        let nodeRows = built.nodeRows
        let vectorBytesRead = Counter()
        let (cold, opened) = try #require(
            try await SegmentIndex.Kind.ivf.openCold(
                size: body.count, read: { range in Array(body[range]) },
                vectors: { positions in
                    positions.map { p in
                        let range = layout.range(ofRow: Int(nodeRows[p]))!
                        vectorBytesRead.add(range.count)
                        return Array(segment[range]).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                    }
                }))
        #expect(cold.count == 3000 && opened.rounds <= 2)
        for query in rows(5, dim: 16).map(\.record.vector) {
            let (hits, cost) = try await cold.search(query, k: 10, width: 8)
            let warm = built.index.search(query, k: 10, width: 8, accept: nil, plan: nil)
            #expect(hits.map { $0.slot } == warm.map { $0.slot })
            #expect(cost.rounds == 2 && cost.bytes < body.count / 2)
            #expect(vectorBytesRead.value <= 40 * 16 * 4 * 5, "rerank reads the candidates' vectors only")
        }
        #expect(try await SegmentIndex.Kind.hnsw.openCold(size: 0) { _ in [] } == nil)
    }
}

private final class Counter: Sendable {
    private let total = Mutex(0)
    var value: Int { total.withLock { $0 } }
    func add(_ n: Int) { total.withLock { $0 += n } }
}
