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

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil,
              contentType: String = "application/json") async throws -> (Int, JSONValue) {
        try await client.execute(
            uri: uri, method: method, headers: [.contentType: contentType], body: body.map { ByteBuffer(string: $0) }
        ) { r in (Int(r.status.code), json(r)) }
    }

    @Test func collectionsRoundTrip() async throws {
        try await withApp { client in
            var (status, body) = try await call(client, .post, "/collections", #"{"name":"films","dimension":3,"distance_metric":"euclidean","filterable_fields":[{"name":"year","type":"integer"}],"tags":["x"]}"#)
            #expect(status == 201 && body["data"]?["distance_metric"] == "euclidean")
            (status, body) = try await call(client, .post, "/collections", #"{"name":"films","dimension":3}"#)
            #expect(status == 409 && body["error"] == "collection_exists")
            (status, body) = try await call(client, .post, "/collections", #"{"name":"../etc","dimension":3}"#)
            #expect(status == 400 && body["error"] == "invalid_name")
            (status, body) = try await call(client, .patch, "/collections/films", #"{"description":"hello"}"#)
            #expect(status == 200 && body["data"]?["description"] == "hello")
            (status, body) = try await call(client, .get, "/collections")
            #expect(body["data"]?.array?.compactMap { $0["name"]?.string } == ["films"])
            (status, body) = try await call(client, .get, "/collections/films")
            #expect(body["data"]?["vector_count"] == 0 && body["data"]?["tags"] == ["x"])
            (status, body) = try await call(client, .post, "/collections/films/vectors", #"{"vectors":[]}"#, contentType: "application/xml")
            #expect(status == 415 && body["error"] == "unsupported_media_type")
            (status, body) = try await call(client, .delete, "/collections/films")
            #expect(status == 200 && body["data"]?["deleted"] == true)
            (status, body) = try await call(client, .get, "/collections/films")
            #expect(status == 404 && body["error"] == "collection_not_found")
        }
    }

    @Test func vectorsRoundTrip() async throws {
        try await withApp { client in
            _ = try await call(client, .post, "/collections", #"{"name":"v","dimension":2,"distance_metric":"euclidean"}"#)
            var (status, body) = try await call(client, .post, "/collections/v/vectors", #"{"vectors":[{"id":"a","vector":[0,0],"metadata":{"g":1}},{"id":"b","vector":[3,4],"metadata":{"g":2}}]}"#)
            #expect(status == 200 && body["data"]?["count"] == 2)
            (status, body) = try await call(client, .post, "/collections/v/vectors", #"{"vectors":[{"id":"c","vector":[1]}]}"#)
            #expect(status == 400 && body["error"] == "dimension_mismatch")
            (status, body) = try await call(client, .post, "/collections/v/search", #"{"vector":[3,4],"k":1,"include_vectors":true}"#)
            let top = body["data"]?["results"]?.array?.first
            #expect(top?["id"] == "b" && top?["vector"]?.array?.compactMap(\.number) == [3, 4])
            (status, body) = try await call(client, .post, "/collections/v/search", #"{"queries":[[0,0],[3,4]],"k":1,"filter":{"g":{"$gte":1}}}"#)
            #expect(body["data"]?["results"]?.array?.map { $0.array?.first?["id"] } == ["a", "b"])
            (status, body) = try await call(client, .put, "/collections/v/vectors/a", #"{"metadata":{"g":9}}"#)
            #expect(status == 200 && body["data"]?["metadata"] == ["g": 9] && body["data"]?["vector"]?.array?.compactMap(\.number) == [0, 0])
            (status, body) = try await call(client, .post, "/collections/v/flush?wait=true")
            #expect(status == 200 && body["data"]?["status"] == "done")
            (status, body) = try await call(client, .post, "/collections/v/flush?wait=maybe")
            #expect(status == 400)
            (status, body) = try await call(client, .post, "/collections/v/vectors/delete", #"{"filter":{"g":2}}"#)
            #expect(body["data"]?["deleted"] == 1)
            (status, body) = try await call(client, .delete, "/collections/v/vectors/a")
            #expect(status == 200 && body["data"]?["deleted"] == 1)
            (status, body) = try await call(client, .get, "/collections/v/vectors/a")
            #expect(status == 404 && body["error"] == "vector_not_found")
            (status, body) = try await call(client, .get, "/collections/v")
            #expect(body["data"]?["vector_count"] == 0)
        }
    }
}
