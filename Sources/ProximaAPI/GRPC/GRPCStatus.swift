import GRPCCore
import Logging
import ProximaCore

/// ProximaDB's stable error codes as gRPC statuses. The code itself is the
/// message's prefix (`dimension_mismatch: expected 8 dimensions, got 3`) and
/// the trailer `proximadb-error-code`, so clients branch on it as REST's do
/// on the envelope's `error`; 429s and 503s carry `retry-after` (seconds).
enum GRPCStatus {
    static func rpcError(_ error: ProximaError) -> RPCError {
        var trailers: Metadata = [:]
        trailers.addString(error.code.rawValue, forKey: "proximadb-error-code")
        if let seconds = error.retryAfterSeconds { trailers.addString(String(seconds), forKey: "retry-after") }
        return RPCError(code: code(error.code), message: "\(error.code.rawValue): \(error.message)", metadata: trailers)
    }

    /// Any error a handler throws as an `RPCError`: ours mapped (and logged as
    /// REST logs them), the library's passed on, cancellation as such.
    static func rpcError(_ error: any Error, logger: Logger) -> RPCError {
        switch error {
        case let e as RPCError: return e
        case is CancellationError: return RPCError(code: .cancelled, message: "the call was cancelled")
        default: return rpcError(ErrorMiddleware<ServerRequestContext>.map(error, logger: logger))
        }
    }

    static func code(_ code: ProximaError.Code) -> RPCError.Code {
        switch code {
        case .invalidJSON, .invalidAvro, .invalidRequest, .invalidName, .invalidId, .invalidVector, .dimensionMismatch,
            .invalidMetadata, .invalidFilter, .invalidConfig, .duplicateId, .batchTooLarge, .unsupportedMediaType:
            .invalidArgument
        case .unauthorized: .unauthenticated
        case .forbidden: .permissionDenied
        case .collectionNotFound, .vectorNotFound, .notFound: .notFound
        case .collectionExists, .vectorExists: .alreadyExists
        case .conflict: .aborted
        case .methodNotAllowed: .unimplemented
        case .payloadTooLarge, .rateLimited, .indexingBacklog, .quotaExceeded: .resourceExhausted
        case .storageUnavailable: .unavailable
        case .deadlineExceeded: .deadlineExceeded
        case .storageCorrupted, .internalError: .internalError
        }
    }
}
