import ArgumentParser
import Dispatch
import Foundation
import ProximaCore
import ProximaIndex

/// Builds an index over a `.npy` matrix and measures recall@k against given
/// ground truth, QPS (one thread and all cores), build time and memory.
/// Prints one JSON object per search setting; `bench/ann` drives it.
struct BenchANN: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-ann", abstract: "Benchmark an ANN index on .npy files (prints JSON lines).")

    @Option var base: String
    @Option var queries: String
    @Option(help: "Ground truth: .npy of int32 ids, one row of k per query.") var truth: String
    @Option var metric: String = "cosine"
    @Option var m: Int = 16
    @Option var efConstruction: Int = 200
    @Option(help: "Comma-separated ef values to sweep.") var ef: String = "16,32,64,128,256"
    @Option var k: Int = 10
    @Option(help: "hnsw, ivf-flat, ivf-sq8, ivf-pq or ivf-rabitq.") var index: String = "hnsw"
    @Option(help: "PQ bytes per vector (default dimension/8).") var pqSubspaces: Int?
    @Option(help: "IVF lists (default 4·√n).") var nLists: Int?
    @Option(help: "Comma-separated IVF probe counts to sweep.") var probes: String = "1,2,4,8,16,32,64"
    @Option(help: "IVF candidates re-ranked per result (default: what the code kind suggests).") var rerank: Int?
    @Option(help: "Filtered search: only rows whose index is a multiple of N may be returned (N = 100 keeps 1%).") var filterEvery: Int?
    @Option(help: "HNSW build threads (default: every core; 1 is the reproducible build).") var threads: Int?
    @Flag(help: "Also time what a flush adds to an HNSW build: calibration, the cold route, its PQ codes and calibration, encoding.")
    var flushPhases = false

    func run() async throws {
        guard let metric = DistanceMetric(parsing: metric) else { throw ValidationError("unknown metric") }
        let baseM = try NPYMatrix(contentsOf: base), queryM = try NPYMatrix(contentsOf: queries)
        let truthRows = try Self.readInt32Matrix(truth)
        if index.hasPrefix("ivf") {
            try runIVF(metric: metric, base: baseM, queries: queryM, truth: truthRows)
            return
        }
        let start = ContinuousClock.now
        let threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let index = HNSWIndex.build(
            vectors: baseM.values, metric: metric, dimension: baseM.columns,
            parameters: .init(m: m, efConstruction: efConstruction), threads: threads)
        let buildSeconds = Self.seconds(ContinuousClock.now - start)
        if flushPhases { try printFlushPhases(index, buildSeconds: buildSeconds) }
        let queryRows = (0..<queryM.rows).map { Array(queryM.row($0)) }
        for efValue in ef.split(separator: ",").compactMap({ Int($0) }) {
            var results = [[Int32]](repeating: [], count: queryRows.count)
            let t1 = ContinuousClock.now
            let accept = Self.filter(every: filterEvery)
            for (i, q) in queryRows.enumerated() { results[i] = index.search(q, k: k, ef: efValue, accept: accept).map(\.slot) }
            let single = Self.seconds(ContinuousClock.now - t1)
            let frozen = index
            let t2 = ContinuousClock.now
            DispatchQueue.concurrentPerform(iterations: queryRows.count) { i in _ = frozen.search(queryRows[i], k: k, ef: efValue, accept: accept) }
            let all = Self.seconds(ContinuousClock.now - t2)
            var hits = 0
            for (got, want) in zip(results, truthRows) { hits += Set(got).intersection(want.prefix(k)).count }
            let line: [String: Any] = [
                "system": "proximadb-hnsw",
                "params": ["m": m, "ef_construction": efConstruction, "ef_search": efValue, "build_threads": threads].merging(filterParams) { a, _ in a },
                "recall_at_10": Double(hits) / Double(queryRows.count * k), "qps_1thread": Double(queryRows.count) / single,
                "qps_all": Double(queryRows.count) / all, "build_seconds": buildSeconds,
                "bytes_per_vector": Double(index.memoryBytes) / Double(baseM.rows), "kernels": DistanceKernels.instructionSet,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
        }
    }

    func runIVF(metric: DistanceMetric, base: NPYMatrix, queries: NPYMatrix, truth: [[Int32]]) throws {
        guard let codes = IVFIndex.Codes(rawValue: String(index.dropFirst(4))) else { throw ValidationError("unknown index \(index)") }
        let lists = nLists ?? max(16, Int(4 * Double(base.rows).squareRoot()))
        let start = ContinuousClock.now
        // Slots in list order, as collections keep them: `order` maps them back to rows.
        let (ivf, order) = IVFIndex(
            vectors: base.values, count: base.rows, metric: metric, dimension: base.columns,
            parameters: .init(nLists: lists, codes: codes, pqSubspaces: pqSubspaces)
        ).renumberedByPosition()
        let buildSeconds = Self.seconds(ContinuousClock.now - start)
        let queryRows = (0..<queries.rows).map { Array(queries.row($0)) }
        let accept = Self.filter(every: filterEvery, order: order)
        let rerank = self.rerank ?? ivf.suggestedRerank
        for probe in probes.split(separator: ",").compactMap({ Int($0) }) {
            var results = [[Int32]](repeating: [], count: queryRows.count)
            let t1 = ContinuousClock.now
            for (i, q) in queryRows.enumerated() {
                results[i] = ivf.search(q, k: k, nProbes: probe, rerank: rerank, accept: accept).map { order[$0.slot] }
            }
            let single = Self.seconds(ContinuousClock.now - t1)
            let t2 = ContinuousClock.now
            DispatchQueue.concurrentPerform(iterations: queryRows.count) { i in
                _ = ivf.search(queryRows[i], k: k, nProbes: probe, rerank: rerank, accept: accept)
            }
            let all = Self.seconds(ContinuousClock.now - t2)
            var hits = 0
            for (got, want) in zip(results, truth) { hits += Set(got).intersection(want.prefix(k)).count }
            let line: [String: Any] = [
                "system": "proximadb-\(index)",
                "params": ["n_lists": lists, "n_probes": probe, "rerank": rerank, "code_bytes": ivf.codeBytesPerVector]
                    .merging(filterParams) { a, _ in a },
                "recall_at_10": Double(hits) / Double(queryRows.count * k), "qps_1thread": Double(queryRows.count) / single,
                "qps_all": Double(queryRows.count) / all, "build_seconds": buildSeconds, "bytes_per_vector": ivf.searchBytesPerVector,
                "kernels": DistanceKernels.instructionSet,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
        }
    }

    /// The steps a flush takes after building a graph (as `SegmentIndex` in
    /// ProximaEngine takes them), each timed, as one JSON line.
    func printFlushPhases(_ graph: HNSWIndex, buildSeconds: Double) throws {
        var phases: [String: Double] = ["build": buildSeconds]
        func timed<T>(_ name: String, _ body: () -> T) -> T {
            let start = ContinuousClock.now
            defer { phases[name] = Self.seconds(ContinuousClock.now - start) }
            return body()
        }
        let probes = timed("probes") { graph.calibrationProbes() }
        _ = timed("calibrate") { graph.calibrate(probes: probes) }
        let route = timed("route") { graph.route() }
        let dim = graph.dimension
        let (ivf, order) = timed("route_codes") {
            IVFIndex(
                vectors: graph.nodeVectors, count: graph.count, metric: graph.metric, dimension: dim,
                parameters: .init(nLists: max(1, route.centroids.count / dim), codes: .pq, pqSubspaces: dim / 2),
                assigned: (route.centroids, route.assignment)
            ).renumberedByPosition()
        }
        _ = timed("route_calibrate") { ivf.calibrate(rerank: ivf.suggestedRerank, probes: probes.renumbered(order: order)) }
        _ = timed("encode") { (graph.serialized(includingVectors: false), ivf.serialized(includingVectors: false)) }
        let line: [String: Any] = ["system": "proximadb-hnsw-flush-phases", "seconds": phases, "rows": graph.count]
        print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
    }

    /// The bench's filter: row indexes that are multiples of `n`.
    static func filter(every n: Int?) -> (@Sendable (Int32) -> Bool)? {
        guard let n else { return nil }
        return { slot in Int(slot) % n == 0 }
    }

    /// The same filter on slots that `order` maps back to rows.
    static func filter(every n: Int?, order: [Int32]) -> (@Sendable (Int32) -> Bool)? {
        guard let n else { return nil }
        return { slot in Int(order[Int(slot)]) % n == 0 }
    }

    var filterParams: [String: Int] { filterEvery.map { ["filter_every": $0] } ?? [:] }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func readInt32Matrix(_ path: String) throws -> [[Int32]] {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        guard header.contains("'<i4'"), let open = header.firstIndex(of: "("), let close = header.firstIndex(of: ")") else {
            throw ValidationError("truth must be a 2-D int32 .npy")
        }
        let dims = header[header.index(after: open)..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let body = 10 + headerLength
        return data.withUnsafeBytes { raw in
            (0..<dims[0]).map { r in
                (0..<dims[1]).map { c in Int32(littleEndian: raw.loadUnaligned(fromByteOffset: body + 4 * (r * dims[1] + c), as: Int32.self)) }
            }
        }
    }
}
