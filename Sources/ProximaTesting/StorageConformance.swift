import ProximaCloud

/// The behaviour every `CloudStorage` must have, run against each backend by
/// the tests (local directory, S3 on moto and LocalStack, GCS on
/// fake-gcs-server). Throws `ConformanceFailure` at the first deviation.
public enum StorageConformance {
    public struct ConformanceFailure: Error, CustomStringConvertible {
        public let description: String
    }

    static func check(_ condition: Bool, _ message: @autoclosure () -> String, line: Int = #line) throws {
        if !condition { throw ConformanceFailure(description: "line \(line): \(message())") }
    }

    static func expectFailure(_ kind: StorageError.Kind?, _ what: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let e as StorageError {
            if let kind { try check(e.kind == kind, "\(what): expected \(kind), got \(e)") }
            return
        }
        throw ConformanceFailure(description: "\(what) succeeded but should have failed")
    }

    public static func run(_ s: any CloudStorage, prefix p: String) async throws {
        // create-only
        let etag1 = try await s.put("\(p)a/one", Array("hello".utf8), condition: .createOnly)
        try await expectFailure(.preconditionFailed, "second create-only put") {
            try await s.put("\(p)a/one", [1], condition: .createOnly)
        }
        let got = try await s.get("\(p)a/one")
        try check(got.bytes == Array("hello".utf8), "read back what was written")
        try check(got.etag == etag1, "GET's ETag equals PUT's (\(got.etag) vs \(etag1))")
        // ranged reads, clamped
        try check(try await s.get("\(p)a/one", range: 1..<3).bytes == Array("el".utf8), "range 1..<3")
        try check(try await s.get("\(p)a/one", range: 3..<100).bytes == Array("lo".utf8), "range past the end is clamped")
        try check(try await s.get("\(p)a/one", range: 10..<20).bytes.isEmpty, "range wholly past the end is empty")
        // if-match
        try await expectFailure(.preconditionFailed, "if-match with a wrong etag") {
            try await s.put("\(p)a/one", [2], condition: .ifMatch("\"0123456789abcdef\""))
        }
        let etag2 = try await s.put("\(p)a/one", Array("world".utf8), condition: .ifMatch(etag1))
        try check(etag2 != etag1, "a new write has a new ETag")
        try await expectFailure(.preconditionFailed, "if-match with a stale etag") {
            try await s.put("\(p)a/one", [3], condition: .ifMatch(etag1))
        }
        try await expectFailure(nil, "if-match on a missing key") {
            try await s.put("\(p)a/missing", [3], condition: .ifMatch(etag1))
        }
        let info = try await s.head("\(p)a/one")
        try check(info == ObjectInfo(key: "\(p)a/one", size: 5, etag: etag2), "HEAD: \(info)")
        // missing keys
        try await expectFailure(.notFound, "GET of a missing key") { _ = try await s.get("\(p)nope") }
        try await expectFailure(.notFound, "HEAD of a missing key") { _ = try await s.head("\(p)nope") }
        try await s.delete("\(p)nope")  // deleting nothing is fine
        // larger objects, binary content
        var big = [UInt8](repeating: 0, count: 3 << 20)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
        try await s.put("\(p)big", big, condition: .createOnly)
        try check(try await s.get("\(p)big").bytes == big, "3 MiB object round-trips")
        try check(try await s.get("\(p)big", range: 1_000_000..<1_000_100).bytes == Array(big[1_000_000..<1_000_100]), "ranged read inside a large object")
        // listing with pagination, in byte order
        for i in 0..<25 { try await s.put("\(p)list/\(i < 10 ? "00" : "0")\(i)", [UInt8(i)]) }
        try await s.put("\(p)listx", [0])
        let page = try await s.list(prefix: "\(p)list/", startAfter: nil, limit: 10)
        try check(page.objects.count == 10 && page.isTruncated, "first page of 10, truncated")
        try check(page.objects.first?.key == "\(p)list/000", "keys relative to the store: \(page.objects.first?.key ?? "-")")
        let all = try await s.listAll(prefix: "\(p)list/")
        try check(all.map(\.key) == (0..<25).map { "\(p)list/\($0 < 10 ? "00" : "0")\($0)" }, "all pages in order")
        try check(all.allSatisfy { $0.size == 1 }, "sizes listed")
        try check(try await s.listAll(prefix: "\(p)list/", startAfter: "\(p)list/020").count == 4, "start-after")
        try check(try await s.listAll(prefix: "\(p)lis").count == 26, "a prefix ending inside a name")
        // unicode and awkward keys
        for key in ["\(p)ü/名前 with space+plus", "\(p)x=y&z?", "\(p)tilde~star*"] {
            try await s.put(key, Array(key.utf8))
            try check(try await s.get(key).bytes == Array(key.utf8), "awkward key \(key)")
        }
        try await s.deleteAll(prefix: "\(p)list/")
        try check(try await s.listAll(prefix: "\(p)list/").isEmpty, "deleteAll removes everything under the prefix")
        // hostile keys never leave the store
        for bad in ["../x", "/etc/passwd", "a/../../b", "a//b", "", ".hidden", "a/./b"] {
            try await expectFailure(.invalidKey, "hostile key '\(bad)'") { try await s.put(bad, [1]) }
        }
        try await s.deleteAll(prefix: p)
    }
}
