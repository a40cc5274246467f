import Testing
@testable import ProximaCloud

/// The behaviour every `CloudStorage` must have. Run against the local
/// directory here; the cloud backends run the same checks.
enum StorageConformance {
    static func run(_ s: any CloudStorage, prefix p: String) async throws {
        // create-only
        let etag1 = try await s.put("\(p)a/one", Array("hello".utf8), condition: .createOnly)
        await #expect(throws: StorageError.self) { try await s.put("\(p)a/one", [1], condition: .createOnly) }
        let got = try await s.get("\(p)a/one")
        #expect(got.bytes == Array("hello".utf8))
        #expect(got.etag == etag1)
        // ranged reads, clamped
        #expect(try await s.get("\(p)a/one", range: 1..<3).bytes == Array("el".utf8))
        #expect(try await s.get("\(p)a/one", range: 3..<100).bytes == Array("lo".utf8))
        // if-match
        await #expect(throws: StorageError.self) { try await s.put("\(p)a/one", [2], condition: .ifMatch("\"nope\"")) }
        let etag2 = try await s.put("\(p)a/one", Array("world".utf8), condition: .ifMatch(etag1))
        #expect(etag2 != etag1)
        await #expect(throws: StorageError.self) { try await s.put("\(p)a/one", [3], condition: .ifMatch(etag1)) }
        await #expect(throws: StorageError.self) { try await s.put("\(p)a/missing", [3], condition: .ifMatch(etag1)) }
        #expect(try await s.head("\(p)a/one") == ObjectInfo(key: "\(p)a/one", size: 5, etag: etag2))
        // missing keys
        do {
            _ = try await s.get("\(p)nope")
            Issue.record("get of a missing key succeeded")
        } catch let e as StorageError {
            #expect(e.kind == .notFound)
        }
        try await s.delete("\(p)nope")  // deleting nothing is fine
        // listing with pagination, in byte order
        for i in 0..<25 { try await s.put("\(p)list/\(String(format: "%03d", i))", [UInt8(i)]) }
        try await s.put("\(p)listx", [0])
        let page = try await s.list(prefix: "\(p)list/", startAfter: nil, limit: 10)
        #expect(page.objects.count == 10 && page.isTruncated)
        #expect(page.objects.first?.key == "\(p)list/000")
        let all = try await s.listAll(prefix: "\(p)list/")
        #expect(all.map(\.key) == (0..<25).map { "\(p)list/\(String(format: "%03d", $0))" })
        let after = try await s.listAll(prefix: "\(p)list/", startAfter: "\(p)list/020")
        #expect(after.count == 4)
        #expect(try await s.listAll(prefix: "\(p)lis").count == 26)
        try await s.deleteAll(prefix: "\(p)list/")
        #expect(try await s.listAll(prefix: "\(p)list/").isEmpty)
        // hostile keys never escape the root
        for bad in ["../x", "/etc/passwd", "a/../../b", "a//b", "", ".hidden", "a/./b"] {
            await #expect(throws: StorageError.self, "\(bad)") { try await s.put(bad, [1]) }
        }
    }
}

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

import Foundation
