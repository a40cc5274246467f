import Foundation
import Logging
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
    let connection: RuntimeAPIConnection
    let logger: Logger

    /// Lambda rejects response payloads above 6 MB; such answers become errors here
    /// so the caller learns why, rather than the runtime failing the post.
    public static let maxResponseBytes = 6 * 1024 * 1024

    /// A client of the Runtime API at `endpoint` (`host:port`).
    public init(endpoint: String, logger: Logger) throws {
        self.endpoint = endpoint
        self.connection = try RuntimeAPIConnection(endpoint: endpoint)
        self.logger = logger
    }

    let base = "/2018-06-01/runtime"

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
            let started = ContinuousClock.now
            await serve(invocation, with: handler)
            // From the event's arrival to the answer's acknowledgement: what this process adds per event.
            logger.debug("invocation \(invocation.requestId) served in \(ContinuousClock.now - started)")
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
        let response = try await connection.request("GET", "\(base)/invocation/next")
        guard response.status == 200 else {
            throw RuntimeAPIError(message: "next: HTTP \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
        }
        guard let id = response.headers["lambda-runtime-aws-request-id"], !id.isEmpty else {
            throw RuntimeAPIError(message: "next: no Lambda-Runtime-Aws-Request-Id")
        }
        let deadlineMs = response.headers["lambda-runtime-deadline-ms"].flatMap { Int64($0) }
        return Invocation(
            requestId: id,
            // Without a deadline (never from Lambda itself), allow Lambda's longest timeout.
            deadline: deadlineMs.map { Invocation.deadline(epochMilliseconds: $0) } ?? ContinuousClock.now + .seconds(900),
            traceId: response.headers["lambda-runtime-trace-id"],
            event: response.body)
    }

    private func post(_ path: String, body: [UInt8]) async throws {
        let response = try await connection.request("POST", path, headers: [("Content-Type", "application/json")], body: body)
        guard (200..<300).contains(response.status) else {
            throw RuntimeAPIError(message: "POST \(path): HTTP \(response.status)")
        }
    }

    private func post(_ path: String, error: (type: String, message: String)) async throws {
        let json: JSONValue = ["errorMessage": .string(error.message), "errorType": .string(error.type), "stackTrace": []]
        _ = try await connection.request(
            "POST", path, headers: [("Content-Type", "application/json"), ("Lambda-Runtime-Function-Error-Type", error.type)],
            body: JSONWriter.encode(json))
    }
}

struct RuntimeAPIError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
