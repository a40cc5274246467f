import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ProximaCore

/// A client of the Lambda Runtime API (version 2018-06-01), the interface
/// between a function's process and the service (or AWS's Runtime Interface
/// Emulator) that hands it events:
///
///     GET  /2018-06-01/runtime/invocation/next         -> the next event, blocking
///     POST /2018-06-01/runtime/invocation/{id}/response
///     POST /2018-06-01/runtime/invocation/{id}/error
///     POST /2018-06-01/runtime/init/error               (once, if set-up fails)
///
/// One process handles one event at a time and keeps its handler (engine,
/// connection pools, caches) between events: that is warm reuse.
public struct FunctionRuntime: Sendable {
    /// `AWS_LAMBDA_RUNTIME_API`: host and port of the Runtime API.
    public let endpoint: String
    let client: HTTPClient
    let logger: Logger

    /// Lambda rejects response payloads above 6 MB; such answers become errors here
    /// so the caller learns why, rather than the runtime failing the post.
    public static let maxResponseBytes = 6 * 1024 * 1024

    public init(endpoint: String, client: HTTPClient = .shared, logger: Logger) {
        self.endpoint = endpoint
        self.client = client
        self.logger = logger
    }

    var base: String { "http://\(endpoint)/2018-06-01/runtime" }

    /// Builds the handler (reporting a failure through `init/error`), then
    /// serves events until the Runtime API goes away.
    public func run(makeHandler: () async throws -> any FunctionHandler) async throws {
        let handler: any FunctionHandler
        do {
            handler = try await makeHandler()
        } catch {
            logger.critical("function init failed: \(error)")
            try? await post("\(base)/init/error", error: ("Runtime.InitError", "\(error)"))
            throw error
        }
        var failures = 0
        while true {
            let invocation: Invocation
            do {
                invocation = try await next()
                failures = 0
            } catch {
                // The Runtime API is part of the sandbox: if it stays away, the sandbox is going.
                failures += 1
                logger.error("runtime API: \(error)")
                if failures >= 5 { throw error }
                try await Task.sleep(for: .milliseconds(100 * failures))
                continue
            }
            await serve(invocation, with: handler)
        }
    }

    /// Handles one event and posts its answer.
    func serve(_ invocation: Invocation, with handler: any FunctionHandler) async {
        var logger = logger
        logger[metadataKey: "aws_request_id"] = .string(invocation.requestId)
        if let trace = invocation.traceId { setenv("_X_AMZN_TRACE_ID", trace, 1) } else { unsetenv("_X_AMZN_TRACE_ID") }
        let result = await InvocationContext.$requestId.withValue(invocation.requestId) {
            await handler.handle(invocation, logger: logger)
        }
        let id = invocation.requestId.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-_."))) ?? ""
        do {
            switch result {
            case .response(let body) where body.count > Self.maxResponseBytes:
                logger.error("response of \(body.count) bytes exceeds the function payload limit")
                try await post("\(base)/invocation/\(id)/error", error: ("Function.ResponseSizeTooLarge", "response of \(body.count) bytes exceeds 6 MB"))
            case .response(let body):
                try await post("\(base)/invocation/\(id)/response", body: body)
            case .error(let type, let message):
                logger.error("invocation failed: \(type): \(message)")
                try await post("\(base)/invocation/\(id)/error", error: (type, message))
            }
        } catch {
            logger.error("could not post the answer: \(error)")
        }
    }

    /// Waits for the next event (the call blocks while the function is idle,
    /// or the sandbox is frozen).
    func next() async throws -> Invocation {
        let request = HTTPClientRequest(url: "\(base)/invocation/next")
        let response = try await client.execute(request, timeout: .hours(24 * 365))
        let body = try await response.body.collect(upTo: 256 * 1024 * 1024)
        guard response.status == .ok else {
            throw RuntimeAPIError(message: "next: HTTP \(response.status.code) \(String(buffer: body))")
        }
        guard let id = response.headers.first(name: "Lambda-Runtime-Aws-Request-Id"), !id.isEmpty else {
            throw RuntimeAPIError(message: "next: no Lambda-Runtime-Aws-Request-Id")
        }
        let deadlineMs = response.headers.first(name: "Lambda-Runtime-Deadline-Ms").flatMap { Int64($0) }
        return Invocation(
            requestId: id,
            // Without a deadline (never from Lambda itself), allow Lambda's longest timeout.
            deadline: deadlineMs.map { Invocation.deadline(epochMilliseconds: $0) } ?? ContinuousClock.now + .seconds(900),
            traceId: response.headers.first(name: "Lambda-Runtime-Trace-Id"),
            functionARN: response.headers.first(name: "Lambda-Runtime-Invoked-Function-Arn"),
            event: Array(buffer: body))
    }

    private func post(_ url: String, body: [UInt8]) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(response.status.code) else {
            throw RuntimeAPIError(message: "POST \(url): HTTP \(response.status.code)")
        }
    }

    private func post(_ url: String, error: (type: String, message: String)) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Lambda-Runtime-Function-Error-Type", value: error.type)
        let json: JSONValue = ["errorMessage": .string(error.message), "errorType": .string(error.type), "stackTrace": []]
        request.body = .bytes(ByteBuffer(bytes: JSONWriter.encode(json)))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
    }
}

struct RuntimeAPIError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
