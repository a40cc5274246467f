import Foundation
import ProximaCore
import ProximaFormat

/// The decoders that read what callers send or what a store hands back,
/// fed arbitrary bytes: JSON bodies, filters, `$regex` patterns, WAL objects
/// (Avro containers), binary insert batches (Avro) and segments (Parquet). Each must answer or throw,
/// never crash, hang or read out of bounds.
///
/// Built with `scripts/fuzz` (`--sanitize fuzzer --sanitize address
/// -Xswiftc -DFUZZING`), this is a libFuzzer binary; built plainly, it replays
/// the committed corpora (`Tests/fuzz/<target>/`), so every build checks them.
enum FuzzTarget: String, CaseIterable {
    case json, filter, regex, wal, parquet, batch

    func run(_ bytes: [UInt8]) {
        switch self {
        case .json:
            if let value = try? JSONParser.parse(bytes) {
                // What parses must write back and parse to the same value (whole doubles are written as integers).
                let again = try? JSONParser.parse(JSONWriter.encode(value))
                precondition(again.map { $0.semanticallyEquals(value) } == true, "JSON round trip changed the value")
            }
        case .filter:
            guard let json = try? JSONParser.parse(bytes), let filter = try? Filter.parse(json) else { return }
            for metadata in Self.records { _ = filter.matches(metadata) }
        case .regex:
            // The first line is the pattern, the rest the text.
            let text = String(decoding: bytes, as: UTF8.self)
            let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            guard let pattern = parts.first, pattern.utf8.count <= Filter.maxRegexLength,
                let regex = try? LinearRegex(String(pattern))
            else { return }
            _ = regex.matches(parts.count > 1 ? String(parts[1]) : "")
        case .wal:
            _ = try? WALCodec.decode(bytes)
        case .batch:
            // A binary insert body: what decodes must encode back to the same records.
            if let records = try? bytes.withUnsafeBytes({ try VectorBatchCodec.decode($0, maxRecords: 10_000) }) {
                let again = try? VectorBatchCodec.encode(records).withUnsafeBytes { try VectorBatchCodec.decode($0, maxRecords: 10_000) }
                precondition(again?.count == records.count, "binary batch round trip changed the records")
            }
        case .parquet:
            if let reader = try? ParquetFile(bytes: bytes) {
                for name in reader.columns.map(\.name) { _ = try? reader.column(name) }
            }
            _ = try? SegmentCodec.decode(bytes)
        }
    }

    /// Metadata a fuzzed filter is evaluated against.
    static let records: [[String: JSONValue]] = [
        [:], ["a": 1, "b": "text", "c": [1, "x", nil], "d": ["e": true]], ["a": .double(-0.5), "b": "日本", "tags": ["x", "y"]],
    ]

    static let current = FuzzTarget(rawValue: ProcessInfo.processInfo.environment["PROXIMADB_FUZZ_TARGET"] ?? "json") ?? .json
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzTarget.current.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if !FUZZING
/// Without libFuzzer: replays every file of the corpora given (folders named after their target).
@main
struct CorpusReplay {
    static func main() throws {
        let roots = CommandLine.arguments.dropFirst()
        guard !roots.isEmpty else {
            print("usage: proximadb-fuzz CORPUS_ROOT (holding one folder per target: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
            exit(2)
        }
        var count = 0
        for root in roots {
            for target in FuzzTarget.allCases {
                let dir = URL(fileURLWithPath: root).appendingPathComponent(target.rawValue)
                for file in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
                    target.run(Array(try Data(contentsOf: dir.appendingPathComponent(file))))
                    count += 1
                }
            }
        }
        print("replayed \(count) inputs")
    }
}
#endif
