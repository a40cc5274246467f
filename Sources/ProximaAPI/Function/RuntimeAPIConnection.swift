import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

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

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let host: String
    let port: UInt16
    /// Blocking calls run here, off Swift's cooperative pool (a custom serial
    /// queue may block without starving the pool).
    private let queue = DispatchQueue(label: "proximadb.runtime-api")
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []

    /// `endpoint` is `host:port`, as `AWS_LAMBDA_RUNTIME_API` gives it.
    init(endpoint: String) throws {
        guard let colon = endpoint.lastIndex(of: ":"), let port = UInt16(endpoint[endpoint.index(after: colon)...]) else {
            throw Failure(description: "AWS_LAMBDA_RUNTIME_API must be host:port, not '\(endpoint)'")
        }
        host = String(endpoint[..<colon])
        self.port = port
    }

    deinit { if fd >= 0 { close(fd) } }

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
        for attempt in 0..<2 {
            do {
                if fd < 0 { try connect() }
                try send(bytes)
                return try readResponse()
            } catch let failure as Failure where attempt == 0 {
                // A connection the peer closed while we were away: once more on a new one.
                _ = failure
                disconnect()
            }
        }
        throw Failure(description: "unreachable")
    }

    private func connect() throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Failure(description: "cannot resolve the Runtime API host \(host)")
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let e = entry {
            let s = socket(e.pointee.ai_family, e.pointee.ai_socktype, e.pointee.ai_protocol)
            if s >= 0 {
                if Glibc.connect(s, e.pointee.ai_addr, e.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    fd = s
                    buffer.removeAll(keepingCapacity: true)
                    return
                }
                close(s)
            }
            entry = e.pointee.ai_next
        }
        throw Failure(description: "cannot connect to the Runtime API at \(host):\(port): errno \(errno)")
    }

    private func disconnect() {
        if fd >= 0 { close(fd) }
        fd = -1
        buffer.removeAll(keepingCapacity: true)
    }

    private func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "send to the Runtime API failed: errno \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes into `buffer`; a closed connection is a `Failure`.
    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure(description: "the Runtime API closed the connection") }
            buffer.append(contentsOf: chunk[0..<n])
            return
        }
    }

    private func readResponse() throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        while true {
            end = buffer.firstRange(of: separator)?.lowerBound
            if end != nil { break }
            try fill()
        }
        let headText = String(decoding: buffer[0..<end!], as: UTF8.self)
        buffer.removeFirst(end! + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            disconnect()
            throw Failure(description: "malformed Runtime API answer: \(headText.prefix(80))")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body: [UInt8] = []
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                let size = try readLine()
                guard let length = Int(size.split(separator: ";").first ?? "", radix: 16) else {
                    disconnect()
                    throw Failure(description: "malformed chunk size from the Runtime API")
                }
                if length == 0 {
                    while try !readLine().isEmpty {}  // trailers
                    break
                }
                try readExactly(length, into: &body)
                _ = try readLine()
            }
        } else if let length = headers["content-length"].flatMap(Int.init) {
            try readExactly(length, into: &body)
        }
        if headers["connection"]?.lowercased() == "close" { disconnect() }
        return Response(status: status, headers: headers, body: body)
    }

    private func readLine() throws -> String {
        while true {
            if let i = buffer.firstRange(of: [13, 10])?.lowerBound {
                let line = String(decoding: buffer[0..<i], as: UTF8.self)
                buffer.removeFirst(i + 2)
                return line
            }
            try fill()
        }
    }

    private func readExactly(_ count: Int, into body: inout [UInt8]) throws {
        while buffer.count < count { try fill() }
        body.append(contentsOf: buffer[0..<count])
        buffer.removeFirst(count)
    }
}
