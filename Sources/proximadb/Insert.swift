import ArgumentParser
import Foundation
import ProximaCore

struct Insert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Insert vectors from a JSONL file ({id?, vector, metadata?, expires_at?} per line) or a .npy matrix.")

    @OptionGroup var connection: Collections.Connection
    @Argument var collection: String
    @Argument(help: "A .jsonl or .npy file.") var file: String
    @Option(help: "Vectors per request.") var batch: Int = 1000
    @Flag(help: "Replace existing ids instead of failing.") var upsert = false
    @Option(help: "For .npy: id of row i is PREFIX + i.") var idPrefix: String = ""

    func run() async throws {
        let client = Client(url: connection.url)
        let records: [JSONValue]
        if file.hasSuffix(".npy") {
            let matrix = try NPYMatrix(contentsOf: file)
            records = (0..<matrix.rows).map { i in
                .object(["id": .string(idPrefix + String(i)), "vector": .array(matrix.row(i).map { .double(Double($0)) })])
            }
        } else {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            var out: [JSONValue] = []
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
                do { out.append(try JSONParser.parse(String(line))) } catch {
                    throw ValidationError("line \(n + 1): \(error)")
                }
            }
            records = out
        }
        var progress = ProgressBar(total: records.count)
        var start = 0
        while start < records.count {
            let chunk = Array(records[start..<min(records.count, start + batch)])
            _ = try await client.call(
                .POST, "/collections/\(collection)/vectors",
                body: JSONWriter.encode(.object(["vectors": .array(chunk), "upsert": .bool(upsert)])))
            start += chunk.count
            progress.update(start)
        }
        progress.finish()
    }
}

/// A one-line progress bar on standard error.
struct ProgressBar {
    let total: Int
    let started = Date()

    mutating func update(_ done: Int) {
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let rate = Double(done) / max(Date().timeIntervalSince(started), 1e-6)
        let line = "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)  \(Int(rate)) vectors/s"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}

/// A 2-D float32/float64 little-endian C-order `.npy` file.
struct NPYMatrix {
    let rows: Int
    let columns: Int
    let values: [Float]

    func row(_ i: Int) -> ArraySlice<Float> { values[(i * columns)..<((i + 1) * columns)] }

    init(contentsOf path: String) throws {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        guard data.count > 10, data[0] == 0x93, Array(data[1..<6]) == Array("NUMPY".utf8) else {
            throw ValidationError("\(path) is not a .npy file")
        }
        let major = data[6]
        let headerLength: Int
        let headerStart: Int
        if major == 1 {
            headerLength = Int(data[8]) | Int(data[9]) << 8
            headerStart = 10
        } else {
            headerLength = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
            headerStart = 12
        }
        let header = String(decoding: data[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard !header.contains("'fortran_order': True") else { throw ValidationError("Fortran-order .npy is not supported") }
        let isF4 = header.contains("'<f4'")
        guard isF4 || header.contains("'<f8'") else { throw ValidationError(".npy must hold little-endian float32 or float64") }
        guard let open = header.firstIndex(of: "("), let close = header.firstIndex(of: ")") else {
            throw ValidationError(".npy header has no shape")
        }
        let dims = header[header.index(after: open)..<close].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard dims.count == 2 else { throw ValidationError(".npy must be a 2-D matrix (rows × dimension)") }
        rows = dims[0]
        columns = dims[1]
        let body = headerStart + headerLength
        let count = rows * columns
        guard data.count >= body + count * (isF4 ? 4 : 8) else { throw ValidationError(".npy file is truncated") }
        values = data.withUnsafeBytes { raw in
            (0..<count).map { i in
                isF4
                    ? Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: body + 4 * i, as: UInt32.self)))
                    : Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: body + 8 * i, as: UInt64.self))))
            }
        }
    }
}
