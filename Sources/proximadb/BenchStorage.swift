import ArgumentParser
import Foundation
import ProximaCloud

/// Object-store throughput as ProximaDB sees it: parallel PUTs and GETs of
/// segment-sized objects, and sequential create-only PUTs of WAL-sized ones.
struct BenchStorage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-storage", abstract: "Measure PUT/GET throughput against a storage URL (prints JSON).")

    @Option var storage: String
    @Option(help: "Objects per phase.") var objects: Int = 64
    @Option(help: "Bytes per large object.") var size: Int = 4 << 20
    @Option(help: "Requests in flight.") var concurrency: Int = 8
    @Option(help: "Sequential create-only puts (WAL-like).") var creates: Int = 200
    @Option(help: "Bytes per create-only put.") var createSize: Int = 64 << 10

    func run() async throws {
        let store = try StorageURL.open(storage)
        let run = "bench-\(UUID().uuidString.prefix(8))/"
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        func timed(_ body: () async throws -> Void) async throws -> Double {
            let start = ContinuousClock.now
            try await body()
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        func parallel(_ op: @escaping @Sendable (Int) async throws -> Void) async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                for _ in 0..<min(concurrency, objects) {
                    let i = next
                    next += 1
                    group.addTask { try await op(i) }
                }
                while try await group.next() != nil, next < objects {
                    let i = next
                    next += 1
                    group.addTask { try await op(i) }
                }
                try await group.waitForAll()
            }
        }
        let putSeconds = try await timed { try await parallel { i in try await store.put("\(run)large/\(i)", payload) } }
        let getSeconds = try await timed {
            try await parallel { i in
                let got = try await store.get("\(run)large/\(i)")
                guard got.bytes.count == payload.count else { throw ValidationError("short read") }
            }
        }
        let small = [UInt8](repeating: 7, count: createSize)
        var latencies: [Double] = []
        for i in 0..<creates {
            latencies.append(try await timed { try await store.put("\(run)wal/\(i)", small, condition: .createOnly) })
        }
        latencies.sort()
        try await store.deleteAll(prefix: run)
        let mb = Double(objects * size) / 1_048_576
        let result: [String: Any] = [
            "storage": store.description, "objects": objects, "object_bytes": size, "concurrency": concurrency,
            "put_mib_per_s": (mb / putSeconds * 10).rounded() / 10, "put_objects_per_s": (Double(objects) / putSeconds).rounded(),
            "get_mib_per_s": (mb / getSeconds * 10).rounded() / 10, "get_objects_per_s": (Double(objects) / getSeconds).rounded(),
            "create_only_put_bytes": createSize,
            "create_only_put_p50_ms": (latencies[latencies.count / 2] * 10_000).rounded() / 10,
            "create_only_put_p99_ms": (latencies[min(latencies.count - 1, latencies.count * 99 / 100)] * 10_000).rounded() / 10,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
    }
}
