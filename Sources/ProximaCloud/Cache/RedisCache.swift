import Dispatch
import ProximaCore

/// The shared tier: Redis, so a handler that starts cold finds what another
/// fetched. Spoken over RESP (the Redis protocol, written here: no client is
/// in this machine's package set) on one connection whose blocking calls run
/// on a queue of their own; `AUTH` (with a user, for Redis 6 ACLs, or the
/// password alone) on connect. Keys live under `prefix`, so `clear` removes
/// only ours (SCAN + DEL, never FLUSHDB). A cache is an optimisation: when
/// Redis is unreachable, reads miss and writes are dropped, after one retry
/// on a fresh connection.
///
/// `redis://[user:password@]host:port[/db][?prefix=p]`
public final class RedisCache: RangedCloudCache, @unchecked Sendable {
    public let host: String
    public let port: UInt16
    let user: String?
    let password: String?
    let database: Int
    let prefix: String
    private let queue = DispatchQueue(label: "proximadb.redis")
    private var socket: BlockingSocket?
    private let counters = CacheCounters()

    public init(url: String) throws {
        guard url.hasPrefix("redis://") else { throw BlockingSocket.Failure("a Redis URL starts with redis://") }
        var rest = String(url.dropFirst("redis://".count))
        var prefix = "proximadb:"
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") where pair.hasPrefix("prefix=") {
                prefix = String(pair.dropFirst("prefix=".count))
            }
            rest = String(rest[..<q])
        }
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            if let colon = credentials.firstIndex(of: ":") {
                let u = String(credentials[..<colon])
                user = u.isEmpty ? nil : u
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
            rest = String(rest[rest.index(after: at)...])
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            database = Int(rest[rest.index(after: slash)...]) ?? 0
            rest = String(rest[..<slash])
        }
        let hostPort = rest.split(separator: ":")
        host = hostPort.first.map(String.init) ?? "127.0.0.1"
        port = hostPort.count > 1 ? UInt16(hostPort[1]) ?? 6379 : 6379
        self.user = user
        self.password = password
        self.database = database
        self.prefix = prefix
    }

    public var tier: String { "redis" }
    public var description: String { "redis://\(host):\(port)/\(database) (prefix \(prefix))" }

    public var stats: CacheStats { counters.snapshot }

    public func get(_ key: String) async throws -> [UInt8]? {
        let reply = try? await command(["GET", prefix + key])
        guard case .bulk(let value)? = reply, let value else {
            counters.miss()
            return nil
        }
        counters.hit()
        return value
    }

    public func set(_ key: String, _ value: [UInt8], ttlSeconds: Int?) async throws {
        var args: [[UInt8]] = [Array("SET".utf8), Array((prefix + key).utf8), value]
        if let ttlSeconds { args += [Array("EX".utf8), Array(String(max(1, ttlSeconds)).utf8)] }
        _ = try? await command(args)
    }

    public func delete(_ key: String) async throws { _ = try await command(["DEL", prefix + key]) }

    /// GETRANGE: only the bytes asked for cross the network.
    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8]? {
        guard !range.isEmpty else { return [] }
        let reply = try? await command(["GETRANGE", prefix + key, String(range.lowerBound), String(range.upperBound - 1)])
        // A missing key reads as an empty string; a short one as fewer bytes.
        guard case .bulk(let value)? = reply, let value, value.count == range.count else {
            counters.miss()
            return nil
        }
        counters.hit()
        return value
    }

    /// Objects past this stay out of Redis (its default largest value is 512 MiB; a shared tier should hold many).
    public var maxValueBytes: Int { 64 << 20 }

    public func clear() async throws {
        var cursor = "0"
        repeat {
            guard case .array(let parts) = try await command(["SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"]), parts.count == 2,
                case .bulk(let next?) = parts[0], case .array(let keys) = parts[1]
            else { throw BlockingSocket.Failure("unexpected SCAN reply") }
            cursor = String(decoding: next, as: UTF8.self)
            let names = keys.compactMap { reply -> [UInt8]? in if case .bulk(let k) = reply { k } else { nil } }
            if !names.isEmpty { _ = try await command([Array("DEL".utf8)] + names) }
        } while cursor != "0"
    }

    // MARK: RESP

    enum Reply: Equatable {
        case simple(String)
        case error(String)
        case integer(Int64)
        case bulk([UInt8]?)
        case array([Reply])
    }

    func command(_ args: [String]) async throws -> Reply { try await command(args.map { Array($0.utf8) }) }

    /// Sends one command and reads its reply, reconnecting once on a broken connection.
    func command(_ args: [[UInt8]]) async throws -> Reply {
        let reply = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Reply, any Error>) in
            queue.async {
                c.resume(with: Result {
                    do {
                        return try self.exchange(args)
                    } catch is BlockingSocket.Failure {
                        self.socket = nil
                        return try self.exchange(args)
                    }
                })
            }
        }
        if case .error(let message) = reply { throw BlockingSocket.Failure("redis: \(message)") }
        return reply
    }

    private func exchange(_ args: [[UInt8]]) throws -> Reply {
        let s = try socket ?? connect()
        try s.send(Self.encode(args))
        return try Self.decode(s)
    }

    private func connect() throws -> BlockingSocket {
        let s = try BlockingSocket(host: host, port: port)
        if let password {
            let auth = user.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            try s.send(Self.encode(auth.map { Array($0.utf8) }))
            if case .error(let message) = try Self.decode(s) { throw BlockingSocket.Failure("redis AUTH: \(message)") }
        }
        if database != 0 {
            try s.send(Self.encode(["SELECT", String(database)].map { Array($0.utf8) }))
            if case .error(let message) = try Self.decode(s) { throw BlockingSocket.Failure("redis SELECT: \(message)") }
        }
        socket = s
        return s
    }

    /// A command as an array of bulk strings.
    static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
        return out
    }

    static func decode(_ s: BlockingSocket, depth: Int = 0) throws -> Reply {
        guard depth < 8 else { throw BlockingSocket.Failure("redis reply nested too deeply") }
        let line = try s.readLine()
        guard let kind = line.first else { throw BlockingSocket.Failure("empty redis reply") }
        let rest = String(line.dropFirst())
        switch kind {
        case "+": return .simple(rest)
        case "-": return .error(rest)
        case ":":
            guard let n = Int64(rest) else { throw BlockingSocket.Failure("bad redis integer") }
            return .integer(n)
        case "$":
            guard let n = Int(rest) else { throw BlockingSocket.Failure("bad redis bulk length") }
            if n < 0 { return .bulk(nil) }
            let value = try s.read(exactly: n)
            _ = try s.read(exactly: 2)
            return .bulk(value)
        case "*":
            guard let n = Int(rest) else { throw BlockingSocket.Failure("bad redis array length") }
            if n < 0 { return .bulk(nil) }
            return .array(try (0..<n).map { _ in try decode(s, depth: depth + 1) })
        default:
            throw BlockingSocket.Failure("unknown redis reply '\(kind)'")
        }
    }
}
