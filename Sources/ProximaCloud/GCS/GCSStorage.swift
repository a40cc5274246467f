import NIOHTTP1
import ProximaCore

/// `CloudStorage` on Google Cloud Storage's JSON API (or fake-gcs-server).
///
/// An object's ETag here is its generation number: create-only puts send
/// `ifGenerationMatch=0`, compare-and-swap sends the expected generation.
/// Uploads above `resumableThreshold` use a resumable session.
public final class GCSStorage: CloudStorage {
    public struct Configuration: Sendable {
        public var bucket: String
        public var prefix: String
        /// `https://storage.googleapis.com`, or the emulator's URL.
        public var endpoint: String
        public var resumableThreshold = 32 << 20
        /// Resumable chunks must be multiples of 256 KiB.
        public var chunkSize = 16 << 20

        public init(bucket: String, prefix: String = "", endpoint: String = "https://storage.googleapis.com") {
            self.bucket = bucket
            var p = prefix
            while p.hasPrefix("/") { p.removeFirst() }
            if !p.isEmpty, !p.hasSuffix("/") { p += "/" }
            self.prefix = p
            var e = endpoint
            while e.hasSuffix("/") { e.removeLast() }
            self.endpoint = e
        }
    }

    public let configuration: Configuration
    let transport: HTTPTransport
    let tokens: (any GCSTokenProvider)?

    public var description: String { "gs://\(configuration.bucket)/\(configuration.prefix)" }

    /// `tokens` nil: no authentication (emulators).
    public init(_ configuration: Configuration, tokens: (any GCSTokenProvider)?, transport: HTTPTransport = HTTPTransport()) {
        self.configuration = configuration
        self.tokens = tokens
        self.transport = transport
    }

    var bucketURL: String { "\(configuration.endpoint)/storage/v1/b/\(SigV4Signer.encode(configuration.bucket))" }

    func objectURL(_ key: String) -> String { bucketURL + "/o/" + SigV4Signer.encode(configuration.prefix + key) }

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> (CloudResponse, Int) {
        try await transport.send { _ in
            var h = headers
            if let tokens = self.tokens { h.append(("Authorization", "Bearer \(try await tokens.accessToken())")) }
            return CloudRequest(method: method, url: url, headers: h, body: body)
        }
    }

    func failure(_ response: CloudResponse, _ what: String) -> StorageError {
        let reason = (try? JSONParser.parse(response.body))?["error"]?["message"]?.string ?? "HTTP \(response.status)"
        let detail = "\(what): \(reason)"
        switch response.status {
        case 404: return StorageError(.notFound, detail)
        case 412: return StorageError(.preconditionFailed, detail)
        case 401, 403: return StorageError(.auth, detail)
        case 429: return StorageError(.throttled, detail)
        case 408, 500...599: return StorageError(.transient, detail)
        default: return StorageError(.fatal, detail)
        }
    }

    static func info(_ json: JSONValue, prefix: String) -> ObjectInfo? {
        guard let name = json["name"]?.string, name.hasPrefix(prefix) else { return nil }
        return ObjectInfo(
            key: String(name.dropFirst(prefix.count)), size: Int(json["size"]?.string ?? "") ?? json["size"]?.integer.map(Int.init) ?? 0,
            etag: json["generation"]?.string ?? json["generation"]?.integer.map { String($0) } ?? "")
    }

    // MARK: CloudStorage

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        try ObjectKey.validate(key)
        if let range, range.isEmpty { return try await emptyRead(key) }
        let headers = range.map { [("Range", ByteRange.header($0))] } ?? []
        let (response, _) = try await send(.GET, objectURL(key) + "?alt=media", headers: headers)
        switch response.status {
        case 200, 206:
            if let generation = response.header("x-goog-generation") { return StoredObject(bytes: response.body, etag: generation) }
            return StoredObject(bytes: response.body, etag: try await head(key).etag)
        case 416: return try await emptyRead(key)  // the range starts past the end
        default: throw failure(response, "GET \(key)")
        }
    }

    public func head(_ key: String) async throws -> ObjectInfo {
        try ObjectKey.validate(key)
        let (response, _) = try await send(.GET, objectURL(key))
        guard response.status == 200, let json = try? JSONParser.parse(response.body),
            let info = Self.info(json, prefix: configuration.prefix)
        else { throw failure(response, "stat \(key)") }
        return info
    }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String {
        try ObjectKey.validate(key)
        var query = "name=\(SigV4Signer.encode(configuration.prefix + key))"
        switch condition {
        case .none: break
        case .createOnly: query += "&ifGenerationMatch=0"
        case .ifMatch(let generation):
            guard Int64(generation) != nil else { throw StorageError(.preconditionFailed, "\(key): not a generation: \(generation)") }
            query += "&ifGenerationMatch=\(generation)"
        }
        let writeId = randomHex(16)
        let uploadBase = "\(configuration.endpoint)/upload/storage/v1/b/\(SigV4Signer.encode(configuration.bucket))/o"
        let response: CloudResponse
        let attempts: Int
        if bytes.count > configuration.resumableThreshold {
            (response, attempts) = try await putResumable(uploadBase + "?uploadType=resumable&" + query, bytes, writeId: writeId, key: key)
        } else {
            // Multipart upload: JSON metadata (with our write id) and the bytes in one request.
            let boundary = "proximadb-" + randomHex(8)
            let metadata = JSONWriter.encode(["metadata": ["proximadb-write": .string(writeId)]])
            var body = Array("--\(boundary)\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".utf8) + metadata
            body += Array("\r\n--\(boundary)\r\nContent-Type: application/octet-stream\r\n\r\n".utf8) + bytes
            body += Array("\r\n--\(boundary)--\r\n".utf8)
            (response, attempts) = try await send(
                .POST, uploadBase + "?uploadType=multipart&" + query, headers: [("Content-Type", "multipart/related; boundary=\(boundary)")],
                body: body)
        }
        if response.status == 200, let json = try? JSONParser.parse(response.body), let info = Self.info(json, prefix: configuration.prefix) {
            return info.etag
        }
        if response.status == 412, attempts > 1, let generation = try await ownWrite(key, writeId) { return generation }
        throw failure(response, "upload \(key)")
    }

    func putResumable(_ url: String, _ bytes: [UInt8], writeId: String, key: String) async throws -> (CloudResponse, Int) {
        let metadata = JSONWriter.encode(["metadata": ["proximadb-write": .string(writeId)]])
        let (start, _) = try await send(.POST, url, headers: [("Content-Type", "application/json; charset=UTF-8")], body: metadata)
        guard start.status == 200, let session = start.header("Location") else { throw failure(start, "start resumable upload \(key)") }
        var offset = 0
        var attempts = 1
        while true {
            let end = min(bytes.count, offset + configuration.chunkSize)
            let chunk = Array(bytes[offset..<end])
            let range = "bytes \(offset)-\(end - 1)/\(bytes.count)"
            let (r, a) = try await send(.PUT, session, headers: [("Content-Range", range)], body: chunk)
            attempts = max(attempts, a)
            if r.status == 308 {  // chunk accepted; continue after the persisted range
                if let persisted = r.header("Range"), let last = persisted.split(separator: "-").last.flatMap({ Int($0) }) {
                    offset = last + 1
                } else {
                    offset = end
                }
                continue
            }
            return (r, attempts)
        }
    }

    func ownWrite(_ key: String, _ writeId: String) async throws -> String? {
        let (response, _) = try await send(.GET, objectURL(key))
        guard response.status == 200, let json = try? JSONParser.parse(response.body),
            json["metadata"]?["proximadb-write"]?.string == writeId
        else { return nil }
        return Self.info(json, prefix: configuration.prefix)?.etag
    }

    public func delete(_ key: String) async throws {
        try ObjectKey.validate(key)
        let (response, _) = try await send(.DELETE, objectURL(key))
        guard response.status == 204 || response.status == 200 || response.status == 404 else { throw failure(response, "DELETE \(key)") }
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        let fullPrefix = configuration.prefix + prefix
        var url = bucketURL + "/o?prefix=\(SigV4Signer.encode(fullPrefix))&maxResults=\(max(1, min(limit, 1000)) + (startAfter == nil ? 0 : 1))"
        if let startAfter { url += "&startOffset=\(SigV4Signer.encode(configuration.prefix + startAfter))" }
        let (response, _) = try await send(.GET, url)
        guard response.status == 200, let json = try? JSONParser.parse(response.body) else { throw failure(response, "list \(prefix)") }
        var objects = (json["items"]?.array ?? []).compactMap { Self.info($0, prefix: configuration.prefix) }
        if let startAfter { objects.removeAll { $0.key <= startAfter } }  // startOffset is inclusive
        let truncated = json["nextPageToken"]?.string != nil || objects.count > limit
        return ListPage(objects: Array(objects.prefix(max(1, limit))), isTruncated: truncated)
    }
}
