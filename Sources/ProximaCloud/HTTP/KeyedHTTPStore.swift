import NIOHTTP1

/// What S3 and Azure Blob share: objects addressed by key under one signed
/// endpoint, read whole or by range with the same status codes. Each store
/// says how it sends a request, names its range header and maps its errors.
protocol KeyedHTTPStore: CloudStorage {
    /// `Range` on S3, `x-ms-range` on Azure.
    var rangeHeader: String { get }
    func exchange(_ method: HTTPMethod, key: String, headers: [(String, String)]) async throws -> CloudResponse
    func failure(_ response: CloudResponse, _ what: String) -> StorageError
}

extension KeyedHTTPStore {
    func getObject(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        try ObjectKey.validate(key)
        if let range, range.isEmpty { return try await emptyRead(key) }
        let response = try await exchange(.GET, key: key, headers: range.map { [(rangeHeader, ByteRange.header($0))] } ?? [])
        switch response.status {
        case 200, 206: return StoredObject(bytes: response.body, etag: response.header("ETag") ?? "")
        case 416: return try await emptyRead(key)  // the range starts past the end
        default: throw failure(response, "GET \(key)")
        }
    }

    func headObject(_ key: String) async throws -> ObjectInfo {
        try ObjectKey.validate(key)
        let response = try await exchange(.HEAD, key: key, headers: [])
        guard response.status == 200 else { throw failure(response, "HEAD \(key)") }
        return ObjectInfo(key: key, size: Int(response.header("Content-Length") ?? "") ?? 0, etag: response.header("ETag") ?? "")
    }
}
