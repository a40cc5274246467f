import Foundation
import Logging
import ProximaCloud
import ProximaCore

/// A fresh directory under the system temp dir, removed by the caller.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "proximadb-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeDirectory(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Job reports are logged at info for operators; tests keep them quiet.
let quietLogger: Logger = {
    var l = Logger(label: "proximadb.test")
    l.logLevel = .warning
    return l
}()
