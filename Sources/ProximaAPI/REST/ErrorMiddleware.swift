import Hummingbird
import Logging
import ProximaCore

/// Turns every error, ours or the router's, into an enveloped answer with a
/// stable code, and counts requests for `/metrics`.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: APIMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Envelope.failure(Self.map(error, logger: context.logger))
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        metrics.recordRequest(
            method: request.method.rawValue, route: context.endpointPath ?? "unmatched", status: Int(response.status.code),
            seconds: seconds)
        return response
    }

    static func map(_ error: any Error, logger: Logger) -> ProximaError {
        switch error {
        case let e as ProximaError:
            if e.code == .internalError || e.code == .storageCorrupted { logger.error("\(e)") }
            if e.code == .storageUnavailable { logger.warning("\(e)") }
            return e
        case let e as any HTTPResponseError where e.status == .contentTooLarge:
            return ProximaError(.payloadTooLarge, "request body is too large")
        case let e as HTTPError:
            switch e.status {
            case .notFound: return ProximaError(.notFound, "no such route")
            case .methodNotAllowed: return ProximaError(.methodNotAllowed, "method not allowed on this route")
            case .contentTooLarge: return ProximaError(.payloadTooLarge, "request body is too large")
            case .badRequest: return ProximaError(.invalidRequest, e.body ?? "bad request")
            default:
                if e.status.code < 500 { return ProximaError(.invalidRequest, e.body ?? e.status.reasonPhrase) }
                logger.error("HTTP error \(e)")
                return ProximaError(.internalError, "internal error")
            }
        default:
            logger.error("unexpected error: \(error)")
            return ProximaError(.internalError, "internal error")
        }
    }
}
