import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ProximaCloud
import ServiceContextModule
import Tracing

/// The outermost middleware: gives every request an id (`X-Request-Id`,
/// echoed when the caller sent a sane one) and writes one log line per
/// request with who asked, what, the answer's status and how long it took.
/// Headers and bodies are never logged: they carry credentials.
struct RequestLogMiddleware<Context: ProximaRequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let id = request.headers[.xRequestId].flatMap(Self.sane) ?? context.transportRequestId ?? UUID().uuidString.lowercased()
        context.facts.requestId = id
        // The caller's W3C trace, or a new one: in the log line and on every object-store call it causes.
        let trace = request.headers[.traceparent].flatMap(TraceParent.init(header:))?.child() ?? .start()
        var logger = context.logger
        logger[metadataKey: "request_id"] = .string(id)
        logger[metadataKey: "trace_id"] = .string(trace.traceId)
        var service = ServiceContext.current ?? .topLevel
        service.traceParent = trace
        var response = try await ServiceContext.withValue(service) {
            try await withSpan(request.method.rawValue + " " + (context.endpointPath ?? "unmatched"), ofKind: .server) { _ in
                try await next(request, context)
            }
        }
        response.headers[.xRequestId] = id
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? "unmatched"),
            "status": .stringConvertible(Int(response.status.code)), "latency_ms": .string(String(format: "%.2f", ms)),
        ]
        if let principal = context.facts.principal {
            metadata["tenant"] = .string(principal.tenant.name)
            metadata["subject"] = .string(principal.subject)
        }
        logger.info("request", metadata: metadata)
        return response
    }

    /// A caller's request id, if it is short printable ASCII (it goes into logs and headers).
    static func sane(_ id: String) -> String? {
        guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else { return nil }
        return id
    }
}

extension HTTPField.Name {
    static let xRequestId = HTTPField.Name("X-Request-Id")!
    static let traceparent = HTTPField.Name("traceparent")!
}
