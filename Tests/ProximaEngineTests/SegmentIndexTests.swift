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

    @Test(arguments: [CollectionConfig.IndexingAlgorithm.hnsw, .ivf])
    func storedIndexesSearchAsBuilt(_ algorithm: CollectionConfig.IndexingAlgorithm) throws {
        let config = try CollectionConfig(
            spec: CollectionSpec(name: "c", dimension: 16, distanceMetric: .euclidean, indexingAlgorithm: algorithm), id: "id", now: 0)
        let built = try #require(SegmentIndex.build(config: config, rows: rows(3000, dim: 16), minRows: 100))
        let read = try SegmentIndex.decode(built.encode())
        #expect(read.kind == built.kind && read.nodeIds == built.nodeIds && read.nodeVersions == built.nodeVersions)
        #expect(read.calibration == built.calibration && !read.calibration.points.isEmpty)
        let query = rows(1, dim: 16)[0].record.vector
        let width = SegmentIndex.Width(ef: 64, probes: 8)
        let a = built.search(query, k: 10, width: width, filtered: false) { _ in true }
        let b = read.search(query, k: 10, width: width, filtered: false) { _ in true }
        #expect(a.map(\.node) == b.map(\.node) && a.count == 10)
    }

    @Test func ivfSearchesColdThroughRangedReadsAsItDoesInMemory() async throws {
        let config = try CollectionConfig(
            spec: CollectionSpec(name: "c", dimension: 16, distanceMetric: .euclidean, indexingAlgorithm: .ivf), id: "id", now: 0)
        let built = try #require(SegmentIndex.build(config: config, rows: rows(3000, dim: 16), minRows: 100))
        let body = built.index.serialized()
        let (cold, opened) = try #require(try await SegmentIndex.Kind.ivf.openCold(size: body.count) { range in Array(body[range]) })
        #expect(cold.count == 3000 && opened.rounds <= 2)
        for query in rows(5, dim: 16).map(\.record.vector) {
            let (hits, cost) = try await cold.search(query, k: 10, width: 8)
            let warm = built.index.search(query, k: 10, width: 8, accept: nil, plan: nil)
            #expect(hits.map(\.slot) == warm.map(\.slot))
            #expect(cost.rounds == 2 && cost.bytes < body.count / 2)
        }
        #expect(try await SegmentIndex.Kind.hnsw.openCold(size: 0) { _ in [] } == nil)
    }
}
