import AsyncHTTPClient
import ServiceContextModule
import Logging
import NIOCore
import NIOHTTP1

/// One HTTP request to a cloud service, built fresh for every attempt (so it
/// can be signed with the current time and credentials).
public struct CloudRequest: Sendable {
    public var method: HTTPMethod
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: HTTPMethod, url: String, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct CloudResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public func header(_ name: String) -> String? { headers.first(name: name) }
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Retry rules: exponential backoff with full jitter on throttling, 5xx and
/// dropped connections. Every cloud client sends through this one type.
public struct RetryPolicy: Sendable {
    public var maxAttempts = 6
    public var baseDelayMillis = 50
    public var maxDelayMillis = 5_000

    public init() {}

    public func delayMillis(attempt: Int) -> Int {
        let ceiling = min(maxDelayMillis, baseDelayMillis << min(attempt, 16))
        return Int.random(in: 0...ceiling)
    }

    public static func isRetryable(status: Int) -> Bool {
        status == 429 || status == 500 || status == 502 || status == 503 || status == 504 || status == 408
    }
}

/// Pooled HTTP client with timeouts and retries.
public final class HTTPTransport: Sendable {
    let client: HTTPClient
    public let retry: RetryPolicy
    let requestTimeout: TimeAmount
    let maxResponseBytes: Int
    let logger: Logger

    public init(
        retry: RetryPolicy = RetryPolicy(), connectTimeout: TimeAmount = .seconds(5), requestTimeout: TimeAmount = .seconds(120),
        maxResponseBytes: Int = 1 << 31, logger: Logger = Logger(label: "proximadb.http")
    ) {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: connectTimeout, read: requestTimeout)
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        config.decompression = .disabled
        config.httpVersion = .http1Only
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.maxResponseBytes = maxResponseBytes
        self.logger = logger
    }

    // Non-blocking: deinit may run on an event-loop thread, where syncShutdown traps.
    deinit { _ = client.shutdown() }

    /// Sends `make()`'s request, retrying transient failures. `make` is called
    /// for every attempt, so each is freshly signed. Returns the last response,
    /// whatever its status, unless every attempt failed at the connection level.
    public func send(
        retryingOn shouldRetry: @Sendable (CloudResponse) -> Bool = { RetryPolicy.isRetryable(status: $0.status) },
        _ make: @Sendable (_ attempt: Int) async throws -> CloudRequest
    ) async throws -> (response: CloudResponse, attempts: Int) {
        var attempt = 0
        while true {
            let request = try await make(attempt)
            do {
                let response = try await execute(request)
                if shouldRetry(response), attempt + 1 < retry.maxAttempts {
                    logger.debug("retrying \(request.method) after HTTP \(response.status)")
                    try await sleep(attempt)
                    attempt += 1
                    continue
                }
                return (response, attempt + 1)
            } catch let error as StorageError {
                throw error
            } catch {
                // Connection refused/reset, timeouts, a body cut short: all transient.
                guard attempt + 1 < retry.maxAttempts else {
                    throw StorageError(.transient, "\(request.method) failed after \(attempt + 1) attempts: \(Self.describe(error))")
                }
                logger.debug("retrying \(request.method) after \(Self.describe(error))")
                try await sleep(attempt)
                attempt += 1
            }
        }
    }

    func execute(_ request: CloudRequest) async throws -> CloudResponse {
        var r = HTTPClientRequest(url: request.url)
        r.method = request.method
        for (name, value) in request.headers { r.headers.add(name: name, value: value) }
        // Not among the signed headers: signatures (SigV4, Shared Key) stay valid with it.
        if let trace = ServiceContext.current?.traceParent { r.headers.add(name: "traceparent", value: trace.child().header) }
        if !request.body.isEmpty || request.method == .PUT || request.method == .POST {
            r.body = .bytes(ByteBuffer(bytes: request.body))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(r, timeout: requestTimeout)
        } catch {
            StorageMetrics.shared.record(method: request.method.rawValue, status: nil, sent: request.body.count, received: 0)
            throw error
        }
        let status = Int(response.status.code)
        do {
            let body = try await response.body.collect(upTo: maxResponseBytes)
            StorageMetrics.shared.record(method: request.method.rawValue, status: status, sent: request.body.count, received: body.readableBytes)
            return CloudResponse(status: status, headers: response.headers, body: Array(body.readableBytesView))
        } catch {
            StorageMetrics.shared.record(method: request.method.rawValue, status: nil, sent: request.body.count, received: 0)
            throw error
        }
    }

    private func sleep(_ attempt: Int) async throws {
        try await Task.sleep(for: .milliseconds(retry.delayMillis(attempt: attempt)))
    }

    /// Error text without URLs' query strings (which may carry SAS tokens).
    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        guard let q = text.firstIndex(of: "?") else { return text }
        return String(text[..<q]) + "?…"
    }
}
