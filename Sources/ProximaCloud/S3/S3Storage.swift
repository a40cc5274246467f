import Crypto
import NIOHTTP1
import ProximaCore

/// `CloudStorage` on Amazon S3 or anything that speaks its REST API
/// (LocalStack, MinIO, SeaweedFS, moto), signed with SigV4 written here.
///
/// Conditional writes use S3's `If-None-Match: *` and `If-Match`. Every put
/// carries a random write id as user metadata, so a retried conditional put
/// that meets a 412 can tell its own earlier attempt (which succeeded but
/// whose answer was lost) from another writer's object.
public final class S3Storage: CloudStorage, KeyedHTTPStore {
    public struct Configuration: Sendable {
        public var bucket: String
        /// Key prefix inside the bucket ("" or ending in "/").
        public var prefix: String
        public var region: String
        /// e.g. `https://s3.us-east-1.amazonaws.com` or `http://127.0.0.1:4566`.
        public var endpoint: String
        /// Path-style (`endpoint/bucket/key`) rather than virtual-hosted (`bucket.host/key`).
        public var pathStyle: Bool
        /// Puts larger than this use multipart upload.
        public var multipartThreshold = 64 << 20
        public var partSize = 16 << 20

        public init(bucket: String, prefix: String = "", region: String = "us-east-1", endpoint: String? = nil, pathStyle: Bool? = nil) {
            self.bucket = bucket
            var p = prefix
            while p.hasPrefix("/") { p.removeFirst() }
            if !p.isEmpty, !p.hasSuffix("/") { p += "/" }
            self.prefix = p
            self.region = region
            var e = endpoint ?? "https://s3.\(region).amazonaws.com"
            while e.hasSuffix("/") { e.removeLast() }
            self.endpoint = e
            // Custom endpoints (emulators, MinIO) generally want path-style.
            self.pathStyle = pathStyle ?? (endpoint != nil || bucket.contains("."))
        }
    }

    public let configuration: Configuration
    let transport: HTTPTransport
    let credentials: any AWSCredentialProvider
    let signer: SigV4Signer
    let scheme: String
    let host: String  // host[:port] of the endpoint

    public var description: String { "s3://\(configuration.bucket)/\(configuration.prefix)" }

    public init(_ configuration: Configuration, credentials: any AWSCredentialProvider, transport: HTTPTransport = HTTPTransport()) throws {
        self.configuration = configuration
        self.credentials = credentials
        self.transport = transport
        self.signer = SigV4Signer(region: configuration.region, service: "s3")
        guard let schemeEnd = configuration.endpoint.firstRange(of: "://") else {
            throw StorageError(.fatal, "S3 endpoint must be a URL, got '\(configuration.endpoint)'")
        }
        scheme = String(configuration.endpoint[..<schemeEnd.lowerBound])
        let rest = configuration.endpoint[schemeEnd.upperBound...]
        host = String(rest.split(separator: "/", maxSplits: 1).first ?? "")
    }

    // MARK: requests

    /// Builds and signs one request; `key` is relative to the store's prefix (nil: the bucket itself).
    func request(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: [UInt8] = [],
        now: Int64 = Timestamp.nowMicros() / 1_000_000
    ) async throws -> CloudRequest {
        let objectPath = key.map { "/" + SigV4Signer.encodePath(configuration.prefix + $0) } ?? "/"
        let requestHost: String
        let path: String
        if configuration.pathStyle {
            requestHost = host
            path = "/\(configuration.bucket)" + (key == nil ? "" : objectPath)
        } else {
            requestHost = "\(configuration.bucket).\(host)"
            path = objectPath
        }
        let queryString = query.map { "\(SigV4Signer.encode($0.0))=\(SigV4Signer.encode($0.1))" }.joined(separator: "&")
        let url = "\(scheme)://\(requestHost)\(path.isEmpty ? "/" : path)" + (queryString.isEmpty ? "" : "?" + queryString)
        let payloadHash = body.isEmpty ? SigV4Signer.emptyPayloadHash : SigV4Signer.sha256Hex(body)
        var allHeaders = headers
        allHeaders.append(("Host", requestHost))
        let signed = signer.sign(
            method: method.rawValue, path: path.isEmpty ? "/" : path, query: query, headers: allHeaders, payloadHash: payloadHash,
            credentials: try await credentials.credentials(), date: now, signPayloadHeader: true)
        return CloudRequest(method: method, url: url, headers: allHeaders + signed.headers, body: body)
    }

    func send(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: [UInt8] = [],
        retryOn409: Bool = false
    ) async throws -> (response: CloudResponse, attempts: Int) {
        try await transport.send(
            retryingOn: { RetryPolicy.isRetryable(status: $0.status) || (retryOn409 && $0.status == 409) },
            { _ in try await self.request(method, key: key, query: query, headers: headers, body: body) })
    }

    /// Maps an unsuccessful answer to the engine's error kinds; never includes secrets.
    let rangeHeader = "Range"

    func exchange(_ method: HTTPMethod, key: String, headers: [(String, String)]) async throws -> CloudResponse {
        try await send(method, key: key, headers: headers).0
    }

    func failure(_ response: CloudResponse, _ what: String) -> StorageError {
        let xml = XMLScanner(response.body)
        let code = xml.value("Code") ?? "HTTP \(response.status)"
        let detail = "\(what): \(code)"
        switch response.status {
        case 404: return StorageError(.notFound, detail)
        case 412: return StorageError(.preconditionFailed, detail)
        case 401, 403: return StorageError(.auth, detail)
        case 429, 503 where code == "SlowDown": return StorageError(.throttled, detail)
        case 408, 409, 500...599: return StorageError(.transient, detail)
        default: return StorageError(.fatal, detail)
        }
    }

    // MARK: CloudStorage

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject { try await getObject(key, range: range) }

    public func head(_ key: String) async throws -> ObjectInfo { try await headObject(key) }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String {
        try ObjectKey.validate(key)
        let writeId = randomHex(16)
        var headers: [(String, String)] = [("x-amz-meta-proximadb-write", writeId), ("Content-Type", "application/octet-stream")]
        switch condition {
        case .none: break
        case .createOnly: headers.append(("If-None-Match", "*"))
        case .ifMatch(let etag): headers.append(("If-Match", etag))
        }
        if bytes.count > configuration.multipartThreshold {
            return try await putMultipart(key, bytes, headers: headers, writeId: writeId)
        }
        let (response, attempts) = try await send(.PUT, key: key, headers: headers, body: bytes, retryOn409: condition != .none)
        if response.status == 200 { return response.header("ETag") ?? "" }
        if response.status == 412, attempts > 1, let etag = try await ownWrite(key, writeId) { return etag }
        throw failure(response, "PUT \(key)")
    }

    /// The object's ETag if it is the one this write id produced (a retried
    /// put whose first attempt had in fact succeeded).
    func ownWrite(_ key: String, _ writeId: String) async throws -> String? {
        let (response, _) = try await send(.HEAD, key: key)
        guard response.status == 200, response.header("x-amz-meta-proximadb-write") == writeId else { return nil }
        return response.header("ETag")
    }

    public func delete(_ key: String) async throws {
        try ObjectKey.validate(key)
        let (response, _) = try await send(.DELETE, key: key)
        guard response.status == 204 || response.status == 200 || response.status == 404 else { throw failure(response, "DELETE \(key)") }
    }

    public func delete(keys: [String]) async throws {
        for key in keys { try ObjectKey.validate(key) }
        for chunk in stride(from: 0, to: keys.count, by: 1000).map({ Array(keys[$0..<min(keys.count, $0 + 1000)]) }) {
            let objects = chunk.map { "<Object><Key>\(XMLScanner.escape(configuration.prefix + $0))</Key></Object>" }.joined()
            let body = Array("<Delete><Quiet>true</Quiet>\(objects)</Delete>".utf8)
            let md5 = Base64.encode(Array(Insecure.MD5.hash(data: body)))
            let (response, _) = try await send(.POST, key: nil, query: [("delete", "")], headers: [("Content-MD5", md5)], body: body)
            guard response.status == 200 else { throw failure(response, "DeleteObjects") }
            if let failed = XMLScanner(response.body).blocks("Error").first {
                throw StorageError(.transient, "DeleteObjects: \(XMLScanner(failed).value("Code") ?? "error") for \(XMLScanner(failed).value("Key") ?? "?")")
            }
        }
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        var query: [(String, String)] = [
            ("list-type", "2"), ("prefix", configuration.prefix + prefix), ("max-keys", String(max(1, min(limit, 1000)))),
        ]
        if let startAfter { query.append(("start-after", configuration.prefix + startAfter)) }
        let (response, _) = try await send(.GET, key: nil, query: query)
        guard response.status == 200 else { throw failure(response, "ListObjectsV2 \(prefix)") }
        let xml = XMLScanner(response.body)
        let objects = xml.blocks("Contents").compactMap { block -> ObjectInfo? in
            let item = XMLScanner(block)
            guard let full = item.value("Key"), full.hasPrefix(configuration.prefix) else { return nil }
            return ObjectInfo(
                key: String(full.dropFirst(configuration.prefix.count)), size: Int(item.value("Size") ?? "") ?? 0,
                etag: item.value("ETag") ?? "")
        }
        return ListPage(objects: objects, isTruncated: xml.value("IsTruncated") == "true")
    }

    // MARK: multipart

    func putMultipart(_ key: String, _ bytes: [UInt8], headers: [(String, String)], writeId: String) async throws -> String {
        let createHeaders = headers.filter { $0.0 != "If-None-Match" && $0.0 != "If-Match" }
        let conditional = headers.filter { $0.0 == "If-None-Match" || $0.0 == "If-Match" }
        let (created, _) = try await send(.POST, key: key, query: [("uploads", "")], headers: createHeaders)
        guard created.status == 200, let uploadId = XMLScanner(created.body).value("UploadId") else {
            throw failure(created, "CreateMultipartUpload \(key)")
        }
        do {
            var parts: [String] = []
            var number = 1
            for start in stride(from: 0, to: bytes.count, by: configuration.partSize) {
                let part = Array(bytes[start..<min(bytes.count, start + configuration.partSize)])
                let (r, _) = try await send(
                    .PUT, key: key, query: [("partNumber", String(number)), ("uploadId", uploadId)], body: part)
                guard r.status == 200, let etag = r.header("ETag") else { throw failure(r, "UploadPart \(number) of \(key)") }
                parts.append("<Part><PartNumber>\(number)</PartNumber><ETag>\(XMLScanner.escape(etag))</ETag></Part>")
                number += 1
            }
            let body = Array("<CompleteMultipartUpload>\(parts.joined())</CompleteMultipartUpload>".utf8)
            let (done, attempts) = try await send(
                .POST, key: key, query: [("uploadId", uploadId)], headers: conditional, body: body, retryOn409: true)
            // Complete can answer 200 with an error document.
            if done.status == 200, XMLScanner(done.body).value("Code") == nil {
                return XMLScanner(done.body).value("ETag") ?? ""
            }
            if done.status == 412 || done.status == 404, attempts > 1, let etag = try await ownWrite(key, writeId) { return etag }
            throw failure(done, "CompleteMultipartUpload \(key)")
        } catch {
            _ = try? await send(.DELETE, key: key, query: [("uploadId", uploadId)])
            throw error
        }
    }
}
