#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP connection with blocking calls and a read buffer, for the
/// line-oriented loopback peers that do not earn an event loop: the Lambda
/// Runtime API (HTTP/1.1, one request at a time) and Redis (RESP). Callers run
/// it on a queue of their own, never on Swift's cooperative pool.
public final class BlockingSocket {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    private var fd: Int32
    private var buffer: [UInt8] = []
    /// Where `recv` writes, allocated once.
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    /// Connects to `host:port` (names resolved, IPv4 or IPv6), with Nagle off.
    public init(host: String, port: UInt16) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Failure("cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let e = entry {
            let s = socket(e.pointee.ai_family, e.pointee.ai_socktype, e.pointee.ai_protocol)
            if s >= 0 {
                if connect(s, e.pointee.ai_addr, e.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    fd = s
                    return
                }
                close(s)
            }
            entry = e.pointee.ai_next
        }
        throw Failure("cannot connect to \(host):\(port): errno \(errno)")
    }

    deinit { close(fd) }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Glibc)
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            #else
            let n = bytes.withUnsafeBytes { Darwin.send(fd, $0.baseAddress! + offset, bytes.count - offset, 0) }
            #endif
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure("send failed: errno \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; a closed connection is a `Failure`.
    private func fill() throws {
        while true {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure("the peer closed the connection") }
            buffer.append(contentsOf: scratch[0..<n])
            return
        }
    }

    /// Bytes up to `separator`, which is consumed and not returned.
    public func read(until separator: [UInt8]) throws -> [UInt8] {
        while true {
            if let r = buffer.firstRange(of: separator) {
                let out = Array(buffer[..<r.lowerBound])
                buffer.removeFirst(r.upperBound)
                return out
            }
            try fill()
        }
    }

    /// A line ending in CRLF, without it.
    public func readLine() throws -> String { String(decoding: try read(until: [13, 10]), as: UTF8.self) }

    public func read(exactly count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let out = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return out
    }
}
