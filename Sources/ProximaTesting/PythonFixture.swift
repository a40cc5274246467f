import Foundation

/// Runs a script from `Tests/fixtures` with `input` on stdin and returns its
/// standard output; throws with its standard error when it fails.
public func runPythonFixture(_ script: String, input: Data) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", EmulatorProcess.fixturesDirectory + "/" + script]
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(input)
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    let errors = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw EmulatorProcess.EmulatorError(description: "\(script) failed: \(String(decoding: errors, as: UTF8.self))")
    }
    return output
}
