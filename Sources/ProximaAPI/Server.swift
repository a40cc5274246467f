import Foundation
import GRPCCore
import GRPCNIOTransportCore
import GRPCNIOTransportHTTP2
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import ProximaEngine

/// How `serve` listens.
public struct ListenOptions: Sendable {
    public var host: String
    public var port: Int
    /// PEM files of the certificate chain and its private key: HTTPS instead of HTTP.
    public var tls: (certificate: String, key: String)?
    /// After SIGTERM/SIGINT, how long requests in flight may take before the process exits anyway.
    public var shutdownTimeout: Duration = .seconds(10)
    /// gRPC's port (proto/proximadb.proto) on the same host, with the same TLS; nil: no gRPC.
    public var grpcPort: Int?

    public init(
        host: String, port: Int, tls: (certificate: String, key: String)? = nil, shutdownTimeout: Duration = .seconds(10), grpcPort: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.shutdownTimeout = shutdownTimeout
        self.grpcPort = grpcPort
    }

    /// Whether only this machine can reach the address.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

/// Runs the REST API over HTTP(S) until SIGTERM/SIGINT.
public enum ProximaServer {
    /// Serves `routes` as `options` say; prints the bound address once listening.
    public static func run(routes: RESTRoutes, options: ListenOptions, logger: Logger) async throws {
        let scheme = options.tls == nil ? "http" : "https"
        let http1: HTTPServerBuilder = .http1(configuration: .init(additionalChannelHandlers: [HangUpWatcher()]))
        var server = http1
        if let tls = options.tls {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
            server = try .tls(http1, tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        }
        let app = Application(
            router: routes.router(),
            server: server,
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "ProximaDB"),
            onServerRunning: { channel in
                // Printed for people and for tests that start the server on port 0.
                let bound = channel.localAddress?.port ?? options.port
                let line = "ProximaDB \(RESTRoutes.version) listening on \(scheme)://\(options.host):\(bound) (storage: \(routes.engine.storageDescription))\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            },
            logger: logger)
        let watchdog = ShutdownWatchdog(timeout: options.shutdownTimeout, logger: logger)
        defer { watchdog.cancel() }
        guard let grpcPort = options.grpcPort else { return try await app.runService() }
        let grpc = GRPCServer(
            transport: .http2NIOPosix(
                address: Self.grpcAddress(host: options.host, port: grpcPort),
                transportSecurity: options.tls.map { tls in
                    .tls(.defaults(certificateChain: [.file(path: tls.certificate, format: .pem)], privateKey: .file(path: tls.key, format: .pem)))
                } ?? .plaintext,
                config: .defaults {
                    $0.rpc.maxRequestPayloadSize = routes.engine.limits.maxBodyBytes
                    // HTTP/2's default 64 KiB window stalls a 1.5 MB insert on ~24 window updates (half the rate
                    // of binary REST in bench/ingest); a window of a few batches and large frames stream it.
                    $0.http2.targetWindowSize = Self.grpcWindowBytes
                    $0.http2.maxFrameSize = 1 << 20
                }),
            services: [GRPCService(routes: routes, logger: logger)])
        // REST owns the signals: when it has shut down gracefully, gRPC follows.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await grpc.serve() }
            group.addTask {
                defer { grpc.beginGracefulShutdown() }
                try await app.runService()
            }
            if let address = try await grpc.listeningAddress {
                let bound = address.ipv4.map { "\($0.host):\($0.port)" } ?? address.ipv6.map { "[\($0.host)]:\($0.port)" } ?? "\(address)"
                FileHandle.standardOutput.write(Data("ProximaDB gRPC listening on \(scheme == "https" ? "tls" : "plaintext")://\(bound)\n".utf8))
            }
            try await group.waitForAll()
        }
    }

    static let grpcWindowBytes = 8 << 20

    /// `--host` as gRPC's listening address: IPv6 literals (`::1`, `[::1]`) as such, `localhost` as 127.0.0.1.
    static func grpcAddress(host: String, port: Int) -> GRPCNIOTransportCore.SocketAddress {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.contains(":") { return .ipv6(host: bare, port: port) }
        return .ipv4(host: bare == "localhost" ? "127.0.0.1" : bare, port: port)
    }
}

/// Graceful shutdown waits for requests in flight; this bounds the wait, so
/// one runaway request cannot keep SIGTERM from ending the process. Exiting
/// then loses nothing: every acknowledged write is already in the store.
final class ShutdownWatchdog {
    private let sources: [any DispatchSourceSignal]

    init(timeout: Duration, logger: Logger) {
        sources = [SIGTERM, SIGINT].map { signal in
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler {
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout.components.seconds * 1000))) {
                    logger.warning("requests still running \(timeout) after the shutdown signal: exiting")
                    exit(0)
                }
            }
            source.resume()
            return source
        }
    }

    func cancel() { for s in sources { s.cancel() } }
}
