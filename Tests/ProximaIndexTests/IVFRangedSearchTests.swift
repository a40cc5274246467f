import Synchronization
import Testing
@testable import ProximaCore
@testable import ProximaIndex

/// A cold IVF query reads a fixed, small number of ranges from the index
/// file (its prefix once, then the chosen lists, then the rerank vectors) and
/// answers exactly what the index answers in memory.
@Suite struct IVFRangedSearchTests {
    final class ReadLog: Sendable {
        let ranges = Mutex<[Range<Int>]>([])
    }

    func data(_ n: Int, _ dim: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<25).map { _ in (0..<dim).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        var out: [Float] = []
        for i in 0..<n { out += centres[i % 25].map { $0 + Float(rng.nextUnit() - 0.5) * 0.5 } }
        return out
    }

    @Test(arguments: IVFIndex.Codes.allCases, [false, true])
    func coldQueriesMatchMemory(_ codes: IVFIndex.Codes, _ renumbered: Bool) async throws {
        let dim = 32, n = 4000, lists = 64
        let base = data(n, dim, seed: 4)
        var index = IVFIndex(vectors: base, count: n, metric: .euclidean, dimension: dim, parameters: .init(nLists: lists, codes: codes, pqSubspaces: 8))
        if renumbered { index = index.renumberedByPosition().index }
        let file = index.serialized()
        let log = ReadLog()
        let read: IVFIndex.RangedFile.Read = { range in
            log.ranges.withLock { $0.append(range) }
            return Array(file[range])
        }
        let (cold, opening) = try await IVFIndex.RangedFile.open(size: file.count, prefixGuess: 4096, read: read)
        #expect(opening.rounds == 2 && opening.requests == 2, "a prefix longer than the guess takes a second read")
        #expect(cold.count == n)
        let queries = data(20, dim, seed: 5)
        let probes = 4, rerank = 8
        for qi in 0..<20 {
            let q = Array(queries[(qi * dim)..<((qi + 1) * dim)])
            log.ranges.withLock { $0 = [] }
            let (hits, cost) = try await cold.search(q, k: 10, nProbes: probes, rerank: rerank)
            let memory = index.search(q, k: 10, nProbes: probes, rerank: rerank)
            #expect(hits.map(\.slot) == memory.map(\.slot))
            #expect(zip(hits, memory).allSatisfy { abs($0.distance - $1.distance) <= 1e-4 * max(1, abs($1.distance)) })
            // Rounds: the lists, then (for codes, or stored ids) the candidates.
            let secondRound = codes != .flat || !renumbered
            #expect(cost.rounds == (secondRound ? 2 : 1))
            #expect(cost.requests <= probes + (secondRound ? 10 * rerank * 2 : 0))
            #expect(cost.bytes < file.count / 4, "\(cost.bytes) of \(file.count) bytes")
            let logged = log.ranges.withLock { $0 }
            #expect(logged.count == cost.requests && logged.reduce(0) { $0 + $1.count } == cost.bytes)
        }
    }

    @Test func damagedPrefixIsRejected() async throws {
        let index = IVFIndex(vectors: data(500, 8, seed: 6), count: 500, metric: .cosine, dimension: 8, parameters: .init(nLists: 10, codes: .sq8))
        var file = index.serialized()
        file[20] ^= 0xFF  // the list count
        let damaged = file
        await #expect(throws: FormatError.self) {
            _ = try await IVFIndex.RangedFile.open(size: damaged.count) { Array(damaged[$0]) }
        }
        await #expect(throws: FormatError.self) {
            _ = try await IVFIndex.RangedFile.open(size: damaged.count + 100) { Array(damaged[$0.clamped(to: 0..<damaged.count)]) }
        }
    }
}
