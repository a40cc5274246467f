import Foundation
import Logging
import ProximaCloud
import ProximaCore
import ProximaEngine

/// A fresh directory under the system temp dir, removed by the caller.
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "proximadb-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeDirectory(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

typealias SeededRandom = SplitMix64

/// Job reports are logged at info for operators; tests keep them quiet.
let quietLogger: Logger = {
    var l = Logger(label: "proximadb.test")
    l.logLevel = .warning
    return l
}()

/// Searches as the tests phrase them, through the engine's one search request.
extension OpenCollection {
    func search(
        queries: [[Float]], k: Int, filter: Filter?, threshold: Float?, exact: Bool = false, targetRecall: Double? = nil
    ) async throws -> [[SearchHit]] {
        try await search(
            SearchRequest(
                collection: CollectionPath(.default, config.name), queries: queries, k: k, filter: filter, threshold: threshold,
                exact: exact, targetRecall: targetRecall))
    }
}

extension Engine {
    func search(_ path: CollectionPath, queries: [[Float]], k: Int, filter: Filter?, threshold: Float?) async throws -> [[SearchHit]] {
        try await search(SearchRequest(collection: path, queries: queries, k: k, filter: filter, threshold: threshold))
    }
}
