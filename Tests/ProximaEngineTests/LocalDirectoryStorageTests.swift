import Testing
import ProximaTesting
@testable import ProximaCloud

@Suite struct LocalDirectoryStorageTests {
    @Test func conformance() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        try await StorageConformance.run(try LocalDirectoryStorage(root: dir), prefix: "t/")
    }

    @Test func concurrentCreateOnlyHasOneWinner() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let s = try LocalDirectoryStorage(root: dir)
        let wins = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<32 {
                group.addTask { (try? await s.put("race/seq", [UInt8(i)], condition: .createOnly)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
    }

    @Test func concurrentIfMatchHasOneWinnerPerVersion() async throws {
        let dir = temporaryDirectory()
        defer { removeDirectory(dir) }
        let s = try LocalDirectoryStorage(root: dir)
        let etag = try await s.put("cas", [0])
        let wins = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<16 {
                group.addTask { (try? await s.put("cas", [UInt8(i)], condition: .ifMatch(etag))) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
    }
}
