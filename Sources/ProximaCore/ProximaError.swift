/// The one error type that crosses module boundaries upward to the API.
///
/// `code` is the stable machine code of `API.md`; the API maps it to an HTTP
/// status in one place. `message` is for people and never carries secrets.
public struct ProximaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        // 400
        case invalidJSON = "invalid_json"
        /// A binary (`application/avro`) body that is not a `vector_batch.avsc` datum.
        case invalidAvro = "invalid_avro"
        case invalidRequest = "invalid_request"
        case invalidName = "invalid_name"
        case invalidId = "invalid_id"
        case invalidVector = "invalid_vector"
        case dimensionMismatch = "dimension_mismatch"
        case invalidMetadata = "invalid_metadata"
        case invalidFilter = "invalid_filter"
        case invalidConfig = "invalid_config"
        case duplicateId = "duplicate_id"
        case batchTooLarge = "batch_too_large"
        // 401/403
        case unauthorized
        case forbidden
        // 404
        case collectionNotFound = "collection_not_found"
        case vectorNotFound = "vector_not_found"
        case notFound = "not_found"
        // 405
        case methodNotAllowed = "method_not_allowed"
        // 409
        case collectionExists = "collection_exists"
        case vectorExists = "vector_exists"
        case conflict
        // 413
        case payloadTooLarge = "payload_too_large"
        // 415
        case unsupportedMediaType = "unsupported_media_type"
        // 429
        case rateLimited = "rate_limited"
        /// Writes arrive faster than flushes index them: the unindexed WAL passed `max_unindexed_bytes`.
        case indexingBacklog = "indexing_backlog"
        /// The tenant would hold more collections, vectors or bytes than its quota allows.
        case quotaExceeded = "quota_exceeded"
        // 503
        case storageUnavailable = "storage_unavailable"
        // 504: the caller's time budget (a function's deadline) ran out first
        case deadlineExceeded = "deadline_exceeded"
        // 500
        case storageCorrupted = "storage_corrupted"
        case internalError = "internal_error"
    }

    public let code: Code
    public let message: String
    /// When trying again makes sense (429 and 503 answers carry it as `Retry-After`).
    public let retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
