import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The outermost middleware: gives every request an id (`X-Request-Id`,
/// echoed when the caller sent a sane one) and writes one log line per
/// request with who asked, what, the answer's status and how long it took.
/// Headers and bodies are never logged: they carry credentials.
struct RequestLogMiddleware<Context: ProximaRequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let id = request.headers[.xRequestId].flatMap(Self.sane) ?? context.transportRequestId ?? UUID().uuidString.lowercased()
        context.facts.requestId = id
        var logger = context.logger
        logger[metadataKey: "request_id"] = .string(id)
        var response = try await next(request, context)
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
}
