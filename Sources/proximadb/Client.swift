import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ProximaCore

/// A small REST client for the data commands: they talk to a running server,
/// so they work the same against a laptop or a deployment.
struct Client {
    let base: String
    /// `$PROXIMADB_API_KEY`: sent as a bearer credential when set.
    let apiKey = ProcessInfo.processInfo.environment["PROXIMADB_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }

    init(url: String?) {
        var u = url ?? ProcessInfo.processInfo.environment["PROXIMADB_URL"] ?? "http://127.0.0.1:5678"
        while u.hasSuffix("/") { u.removeLast() }
        base = u
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends a request and returns the envelope's `data`, or throws its error.
    func call(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws -> JSONValue {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer " + apiKey) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(300))
        } catch {
            throw Failure(description: "cannot reach ProximaDB at \(base): \(error)")
        }
        let bytes = try await response.body.collect(upTo: 1 << 30)
        guard let json = try? JSONParser.parse(bytes.readableBytesView) else {
            throw Failure(description: "HTTP \(response.status.code): not a JSON answer")
        }
        if json["success"]?.bool == true { return json["data"] ?? .null }
        throw Failure(description: "\(json["error"]?.string ?? "error"): \(json["message"]?.string ?? "HTTP \(response.status.code)")")
    }

    static func percentEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }
}

func printJSON(_ value: JSONValue) {
    print(JSONWriter.string(value))
}
