import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ProximaCore
import ProximaEngine

/// The request context of routes answered for function events: no socket;
/// the caller's address and request id come from the event and invocation.
public struct FunctionRequestContext: ProximaRequestContext {
    /// What a context is made from.
    public struct Source: RequestContextSource {
        public let logger: Logger
        public var clientAddress: String?
        public var requestId: String?
    }

    public var coreContext: CoreRequestContextStorage
    public let clientAddress: String?
    public let transportRequestId: String?
    public let facts = RequestFacts()
    /// The whole invocation is bounded by the function's deadline instead.
    public func hangUp() async -> EventLoopFuture<Void>? { nil }

    public init(source: Source) {
        coreContext = CoreRequestContextStorage(source: source)
        clientAddress = source.clientAddress
        transportRequestId = source.requestId
    }
}

/// The `api` role: HTTP events (API Gateway HTTP API and REST API, Function
/// URLs, ALB) answered by the same routes and error mapping as `serve`.
public struct APIFunction: FunctionHandler {
    let responder: RouterResponder<FunctionRequestContext>
    /// Kept back from the deadline to post the answer before Lambda stops the process.
    let margin: Duration

    /// Builds the router once: every event of this process goes through it.
    public init(routes: RESTRoutes, margin: Duration = .milliseconds(250)) {
        responder = routes.router(context: FunctionRequestContext.self).buildResponder()
        self.margin = margin
    }

    public func handle(_ invocation: Invocation, logger: Logger) async -> InvocationResult {
        let event: HTTPEvent
        do {
            event = try HTTPEvent(json: try JSONParser.parse(invocation.event))
        } catch {
            // Logged once, by the runtime, with the rest of the error answers.
            return .error(type: "InvalidEvent", message: "the api function answers HTTP events (API Gateway, Function URL, ALB): \(error)")
        }
        let context = FunctionRequestContext(
            source: .init(logger: logger, clientAddress: event.sourceAddress, requestId: invocation.requestId))
        let (status, headers, body): (HTTPResponse.Status, HTTPFields, [UInt8])
        do {
            (status, headers, body) = try await withDeadline(invocation.deadline - margin) { [responder] in
                let response = try await responder.respond(to: event.request, context: context)
                let collector = BodyCollector()
                try await response.body.write(collector)
                return (response.status, response.headers, collector.bytes)
            }
        } catch is DeadlineExceeded {
            logger.warning("api: \(event.method) \(event.target) did not finish before the function's deadline")
            (status, headers, body) = Self.failure(ProximaError(.deadlineExceeded, "the request did not finish within the function's time limit"))
        } catch {
            // The router maps every error itself; this is only the body writer failing.
            (status, headers, body) = Self.failure(ErrorMiddleware<FunctionRequestContext>.map(error, logger: logger))
        }
        var answerHeaders = headers
        if answerHeaders[.xRequestId] == nil { answerHeaders[.xRequestId] = context.facts.requestId.isEmpty ? invocation.requestId : context.facts.requestId }
        return .response(JSONWriter.encode(event.answer(status: status, headers: answerHeaders, body: body)))
    }

    static func failure(_ error: ProximaError) -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        (Envelope.status(for: error.code), [.contentType: "application/json"], JSONWriter.encode(Envelope.failureJSON(error)))
    }
}

/// Gathers a response body in memory: a function answers with one payload.
private final class BodyCollector: ResponseBodyWriter, @unchecked Sendable {
    var bytes: [UInt8] = []
    func write(_ buffer: ByteBuffer) async throws { bytes.append(contentsOf: buffer.readableBytesView) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
