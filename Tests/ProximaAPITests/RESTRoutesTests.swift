import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ProximaAPI
@testable import ProximaCloud
@testable import ProximaCore
@testable import ProximaEngine

/// The REST contract through the router, without a socket.
@Suite struct RESTRoutesTests {
    func withApp(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "proximadb-api-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = Engine(storage: try LocalDirectoryStorage(root: dir))
        let app = Application(router: RESTRoutes(engine: engine).router())
        try await app.test(.router) { client in try await body(client) }
    }

    func json(_ response: TestResponse) -> JSONValue { (try? JSONParser.parse(response.body.readableBytesView)) ?? .null }

    @Test func envelopeAndStatusCodes() async throws {
        try await withApp { client in
            try await client.execute(uri: "/collections", method: .post, body: ByteBuffer(string: #"{"name":"a","dimension":2}"#)) { r in
                #expect(r.status == .created)
                #expect(json(r)["success"] == true)
            }
            try await client.execute(uri: "/collections/a/vectors", method: .post, body: ByteBuffer(string: #"{"vectors":[{"id":"x","vector":[1,2]}]}"#)) { r in
                #expect(r.status == .ok)
                #expect(json(r)["data"]?["ids"] == ["x"])
            }
            try await client.execute(uri: "/collections/a/vectors", method: .post, body: ByteBuffer(string: #"{"vectors":[{"id":"x","vector":[1,2]}]}"#)) { r in
                #expect(r.status == .conflict)
                #expect(json(r)["error"] == "vector_exists")
            }
            try await client.execute(uri: "/collections/missing/search", method: .post, body: ByteBuffer(string: #"{"vector":[1,2]}"#)) { r in
                #expect(r.status == .notFound)
                #expect(json(r)["error"] == "collection_not_found")
            }
            try await client.execute(uri: "/collections/a/search", method: .post, body: ByteBuffer(string: #"{"vector":[1,2],"filter":{"$bad":1}}"#)) { r in
                #expect(r.status == .badRequest)
                #expect(json(r)["error"] == "invalid_filter")
            }
            try await client.execute(uri: "/collections/a/vectors/x%2Fy", method: .get) { r in
                #expect(r.status == .notFound)
                #expect(json(r)["error"] == "vector_not_found")
            }
            try await client.execute(uri: "/nowhere", method: .get) { r in
                #expect(r.status == .notFound)
                #expect(json(r)["error"] == "not_found")
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(String(buffer: r.body).contains("proximadb_http_requests_total"))
            }
        }
    }
}
