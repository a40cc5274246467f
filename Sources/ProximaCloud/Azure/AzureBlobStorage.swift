import NIOHTTP1
import ProximaCore

/// `CloudStorage` on Azure Blob Storage (block blobs), over its REST API with
/// Shared Key, SAS or bearer authorization.
///
/// Create-only puts send `If-None-Match: *` (Azure answers 409
/// BlobAlreadyExists), compare-and-swap sends `If-Match`. Large objects are
/// uploaded as blocks and committed with one Put Block List carrying the
/// condition, so a blob is never visible half-written.
public final class AzureBlobStorage: CloudStorage, KeyedHTTPStore {
    public let account: AzureAccount
    public let container: String
    public let prefix: String
    let transport: HTTPTransport
    /// Objects above this size go up as blocks of `blockSize`.
    public let blockThreshold: Int
    public let blockSize: Int

    static let apiVersion = "2023-11-03"

    public var description: String { "az://\(account.name)/\(container)/\(prefix)" }

    public init(
        account: AzureAccount, container: String, prefix: String = "", blockThreshold: Int = 64 << 20, blockSize: Int = 16 << 20,
        transport: HTTPTransport = HTTPTransport()
    ) {
        self.blockThreshold = blockThreshold
        self.blockSize = blockSize
        self.account = account
        self.container = container
        var p = prefix
        while p.hasPrefix("/") { p.removeFirst() }
        if !p.isEmpty, !p.hasSuffix("/") { p += "/" }
        self.prefix = p
        self.transport = transport
    }

    // MARK: requests

    /// Builds and authorizes one request. `key` nil addresses the container.
    func request(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: [UInt8] = [],
        now: Int64 = Timestamp.nowMicros() / 1_000_000
    ) async throws -> CloudRequest {
        let endpointPath = account.blobEndpoint.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        let basePath = endpointPath.count > 3 ? "/" + endpointPath[3] : ""
        let path = basePath + "/" + SigV4Signer.encode(container) + (key.map { "/" + SigV4Signer.encodePath(prefix + $0) } ?? "")
        var all = headers
        all.append(("x-ms-date", Timestamp.rfc1123(seconds: now)))
        all.append(("x-ms-version", Self.apiVersion))
        if method == .PUT || method == .POST { all.append(("Content-Length", String(body.count))) }
        var queryItems = query
        switch account.authorization {
        case .sharedKey(let key):
            all.append(("Authorization", key.authorization(method: method.rawValue, path: path, query: query, headers: all)))
        case .sas(let token):
            for pair in token.drop(while: { $0 == "?" }).split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncodingLossy() }
                queryItems.append((kv[0], kv.count > 1 ? kv[1] : ""))
            }
        case .bearer(let provider):
            all.append(("Authorization", "Bearer \(try await provider.accessToken())"))
        }
        let queryString = queryItems.map { "\(SigV4Signer.encode($0.0))=\(SigV4Signer.encode($0.1))" }.joined(separator: "&")
        let origin = endpointPath.prefix(3).joined(separator: "/")
        return CloudRequest(
            method: method, url: origin + path + (queryString.isEmpty ? "" : "?" + queryString),
            headers: all.filter { $0.0 != "Content-Length" }, body: body)
    }

    func send(
        _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> (CloudResponse, Int) {
        try await transport.send { _ in try await self.request(method, key: key, query: query, headers: headers, body: body) }
    }

    let rangeHeader = "x-ms-range"

    func exchange(_ method: HTTPMethod, key: String, headers: [(String, String)]) async throws -> CloudResponse {
        try await send(method, key: key, headers: headers).0
    }

    func failure(_ response: CloudResponse, _ what: String) -> StorageError {
        let code = response.header("x-ms-error-code") ?? XMLScanner(response.body).value("Code") ?? "HTTP \(response.status)"
        let detail = "\(what): \(code)"
        switch (response.status, code) {
        case (404, _): return StorageError(.notFound, detail)
        case (412, _), (409, "BlobAlreadyExists"): return StorageError(.preconditionFailed, detail)
        case (401, _), (403, _): return StorageError(.auth, detail)
        case (503, "ServerBusy"), (429, _): return StorageError(.throttled, detail)
        case (408, _), (500...599, _): return StorageError(.transient, detail)
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
        var headers: [(String, String)] = [("x-ms-meta-proximadb_write", writeId)]
        switch condition {
        case .none: break
        case .createOnly: headers.append(("If-None-Match", "*"))
        case .ifMatch(let etag): headers.append(("If-Match", etag))
        }
        let response: CloudResponse
        let attempts: Int
        if bytes.count > blockThreshold {
            (response, attempts) = try await putBlocks(key, bytes, headers: headers)
        } else {
            (response, attempts) = try await send(
                .PUT, key: key, headers: headers + [("x-ms-blob-type", "BlockBlob"), ("Content-Type", "application/octet-stream")], body: bytes)
        }
        if response.status == 201 { return response.header("ETag") ?? "" }
        let error = failure(response, "PUT \(key)")
        if error.kind == .preconditionFailed, attempts > 1, let etag = try await ownWrite(key, writeId) { return etag }
        throw error
    }

    func putBlocks(_ key: String, _ bytes: [UInt8], headers: [(String, String)]) async throws -> (CloudResponse, Int) {
        var ids: [String] = []
        for (n, start) in stride(from: 0, to: bytes.count, by: blockSize).enumerated() {
            // Block ids: base64 of equal-length strings, unique to this upload.
            let id = Base64.encode(Array("\(randomHex(8))-\(String(zeroPadded: Int64(n), width: 6))".utf8))
            let (r, _) = try await send(
                .PUT, key: key, query: [("comp", "block"), ("blockid", id)], body: Array(bytes[start..<min(bytes.count, start + blockSize)]))
            guard r.status == 201 else { throw failure(r, "Put Block \(n) of \(key)") }
            ids.append(id)
        }
        let list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>" + ids.map { "<Latest>\($0)</Latest>" }.joined() + "</BlockList>"
        return try await send(
            .PUT, key: key, query: [("comp", "blocklist")], headers: headers + [("x-ms-blob-content-type", "application/octet-stream")],
            body: Array(list.utf8))
    }

    func ownWrite(_ key: String, _ writeId: String) async throws -> String? {
        let (response, _) = try await send(.HEAD, key: key)
        guard response.status == 200, response.header("x-ms-meta-proximadb_write") == writeId else { return nil }
        return response.header("ETag")
    }

    public func delete(_ key: String) async throws {
        try ObjectKey.validate(key)
        let (response, _) = try await send(.DELETE, key: key)
        guard response.status == 202 || response.status == 200 || response.status == 404 else { throw failure(response, "DELETE \(key)") }
    }

    /// Azure lists from an opaque marker, not from a key: pages are read from
    /// the prefix's start and keys up to `startAfter` skipped.
    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        var objects: [ObjectInfo] = []
        var marker: String?
        let limit = max(1, limit)
        while true {
            var query: [(String, String)] = [
                ("restype", "container"), ("comp", "list"), ("prefix", self.prefix + prefix), ("maxresults", "1000"),
            ]
            if let marker { query.append(("marker", marker)) }
            let (response, _) = try await send(.GET, key: nil, query: query)
            guard response.status == 200 else { throw failure(response, "List Blobs \(prefix)") }
            let xml = XMLScanner(response.body)
            for block in xml.blocks("Blob") {
                let blob = XMLScanner(block)
                guard let name = blob.value("Name"), name.hasPrefix(self.prefix) else { continue }
                let key = String(name.dropFirst(self.prefix.count))
                if let startAfter, key <= startAfter { continue }
                if objects.count == limit { return ListPage(objects: objects, isTruncated: true) }
                objects.append(ObjectInfo(key: key, size: Int(blob.value("Content-Length") ?? "") ?? 0, etag: blob.value("Etag") ?? ""))
            }
            marker = xml.value("NextMarker").flatMap { $0.isEmpty ? nil : $0 }
            if marker == nil { return ListPage(objects: objects, isTruncated: false) }
        }
    }
}

extension String {
    func removingPercentEncodingLossy() -> String {
        var bytes: [UInt8] = []
        var it = Array(self.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
