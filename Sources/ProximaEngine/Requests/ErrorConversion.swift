import ProximaCloud
import ProximaCore

extension ProximaError {
    /// The one conversion of lower layers' failures into the API's error, made
    /// at the engine's boundary so no transport sees a `StorageError` or a
    /// format error. A missing object under a collection means its data went
    /// away under the request (dropped concurrently): `collection_not_found`.
    public init(converting error: any Error) {
        switch error {
        case let e as ProximaError: self = e
        case let e as StorageError:
            switch e.kind {
            case .notFound: self.init(.collectionNotFound, "the collection's data is gone (deleted concurrently?)")
            case .invalidKey: self.init(.invalidName, "invalid name")
            case .preconditionFailed: self.init(.conflict, "changed concurrently; try again")
            case .throttled, .auth, .transient, .fatal:
                self.init(.storageUnavailable, "the object store is unavailable (\(e.kind.rawValue)); retry later")
            }
        case let e as FormatError: self.init(.storageCorrupted, "a stored object is corrupt: \(e)")
        case is CancellationError: self.init(.internalError, "the request was cancelled")
        default: self.init(.internalError, "\(error)")
        }
    }
}

/// Runs `body` and converts what it throws (see `ProximaError(converting:)`).
public func convertingErrors<T>(
    isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
) async throws(ProximaError) -> T {
    do { return try await body() } catch { throw ProximaError(converting: error) }
}
