import Hummingbird
import ProximaCore

/// The seed's response envelope: `{"success", "data", "error", "message"}`.
enum Envelope {
    static func success(_ data: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        json(.object(["success": true, "data": data, "error": .null, "message": .null]), status: status)
    }

    static func failure(_ error: ProximaError) -> Response {
        var response = json(failureJSON(error), status: status(for: error.code))
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        if error.code == .unauthorized { response.headers[.wwwAuthenticate] = #"Bearer realm="proximadb""# }
        return response
    }

    static func failureJSON(_ error: ProximaError) -> JSONValue {
        .object(["success": false, "data": .null, "error": .string(error.code.rawValue), "message": .string(error.message)])
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status) -> Response {
        raw(JSONWriter.encode(value), status: status)
    }

    static func raw(_ bytes: [UInt8], status: HTTPResponse.Status, contentType: String = "application/json") -> Response {
        Response(
            status: status, headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The one place error codes become HTTP statuses.
    static func status(for code: ProximaError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidJSON, .invalidAvro, .invalidRequest, .invalidName, .invalidId, .invalidVector, .dimensionMismatch, .invalidMetadata,
            .invalidFilter, .invalidConfig, .duplicateId, .batchTooLarge:
            .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .collectionNotFound, .vectorNotFound, .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .collectionExists, .vectorExists, .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .rateLimited, .indexingBacklog, .quotaExceeded: .tooManyRequests
        case .storageUnavailable: .serviceUnavailable
        case .deadlineExceeded: .gatewayTimeout
        case .storageCorrupted, .internalError: .internalServerError
        }
    }
}
