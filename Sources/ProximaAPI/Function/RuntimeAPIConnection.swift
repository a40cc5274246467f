import Dispatch
import Foundation
import ProximaCore

/// One keep-alive HTTP/1.1 connection to the Lambda Runtime API, with
/// blocking socket calls on a thread of its own. The Runtime API is a
/// loopback peer that speaks plain HTTP/1.1, one request at a time: a general
/// client (AsyncHTTPClient took ~0.6 ms per post here, through its event loop
/// and pool) costs more than the whole answer to a small request, and this
/// path runs once per invocation.
final class RuntimeAPIConnection: @unchecked Sendable {
    struct Response {
        var status: Int
        /// Header names lower-cased.
        var headers: [String: String]
        var body: [UInt8]
    }

    typealias Failure = BlockingSocket.Failure

    let host: String
    let port: UInt16
    /// Blocking calls run here, off Swift's cooperative pool (a custom serial
    /// queue may block without starving the pool).
    private let queue = DispatchQueue(label: "proximadb.runtime-api")
    private var socket: BlockingSocket?

    /// `endpoint` is `host:port`, as `AWS_LAMBDA_RUNTIME_API` gives it.
    init(endpoint: String) throws {
        guard let colon = endpoint.lastIndex(of: ":"), let port = UInt16(endpoint[endpoint.index(after: colon)...]) else {
            throw Failure("AWS_LAMBDA_RUNTIME_API must be host:port, not '\(endpoint)'")
        }
        host = String(endpoint[..<colon])
        self.port = port
    }

    /// Sends one request and reads its whole answer; reconnects once when the
    /// kept-alive connection turns out to be closed.
    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.exchange(method, path, headers: headers, body: body) })
            }
        }
    }

    private func exchange(_ method: String, _ path: String, headers: [(String, String)], body: [UInt8]) throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + body
        var attempt = 0
        while true {
            attempt += 1
            do {
                let s = try socket ?? BlockingSocket(host: host, port: port)
                socket = s
                try s.send(bytes)
                let response = try readResponse(s)
                if response.headers["connection"]?.lowercased() == "close" { socket = nil }
                return response
            } catch let failure as Failure {
                // A connection the peer closed while we were away: once more on a new one.
                socket = nil
                if attempt >= 2 { throw failure }
            }
        }
    }

    private func readResponse(_ s: BlockingSocket) throws -> Response {
        let headText = String(decoding: try s.read(until: [13, 10, 13, 10]), as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure("malformed Runtime API answer: \(headText.prefix(80))")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body: [UInt8] = []
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                let size = try s.readLine()
                guard let length = Int(size.split(separator: ";").first ?? "", radix: 16) else {
                    throw Failure("malformed chunk size from the Runtime API")
                }
                if length == 0 {
                    while try !s.readLine().isEmpty {}  // trailers
                    break
                }
                body += try s.read(exactly: length)
                _ = try s.readLine()
            }
        } else if let length = headers["content-length"].flatMap(Int.init) {
            body = try s.read(exactly: length)
        }
        return Response(status: status, headers: headers, body: body)
    }
}
