import Foundation

/// A helper process (an emulator launcher from `Tests/fixtures`) that prints
/// one JSON line describing itself, then serves until its standard input
/// closes. Starting it fails loudly: tests never skip a backend silently.
public final class EmulatorProcess: @unchecked Sendable {
    public let info: [String: String]
    private let process: Process
    private let stdin: Pipe

    public static var fixturesDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Tests/fixtures").standardized.path
    }

    public init(_ script: String, arguments: [String] = [], timeout: TimeInterval = 180) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.fixturesDirectory + "/" + script] + arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        self.process = process
        self.stdin = stdin
        // Read the first line, with a deadline.
        let handle = stdout.fileHandleForReading
        var line = Data()
        let deadline = Date().addingTimeInterval(timeout)
        while !line.contains(0x0A) {
            let chunk = handle.availableData
            if chunk.isEmpty {
                throw EmulatorError(description: "\(script) exited before it was ready (see its standard error)")
            }
            line.append(chunk)
            if Date() > deadline { process.terminate(); throw EmulatorError(description: "\(script) did not start in time") }
        }
        let first = line.prefix(while: { $0 != 0x0A })
        guard let object = try JSONSerialization.jsonObject(with: first) as? [String: Any] else {
            throw EmulatorError(description: "\(script) printed no JSON: \(String(decoding: first, as: UTF8.self))")
        }
        info = object.mapValues { "\($0)" }
    }

    public subscript(key: String) -> String { info[key] ?? "" }

    public func stop() {
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { if process.isRunning { stop() } }

    public struct EmulatorError: Error, CustomStringConvertible { public let description: String }
}
