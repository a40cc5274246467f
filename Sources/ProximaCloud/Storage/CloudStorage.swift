/// The object-store seam: everything durable goes through it.
///
/// Semantics follow S3's conditional writes, which GCS and Azure can match:
/// `.createOnly` fails with `.preconditionFailed` when the key exists
/// (`If-None-Match: *`); `.ifMatch(etag)` fails unless the current object has
/// that ETag. Writes are atomic: a reader sees the whole old or the whole new
/// object, never a mix.
public protocol CloudStorage: Sendable {
    /// Whole object, or `range` of its bytes (clamped to the object's end).
    func get(_ key: String, range: Range<Int>?) async throws -> StoredObject
    /// The object's size and ETag without its bytes; `.notFound` when it is absent.
    func head(_ key: String) async throws -> ObjectInfo
    /// Returns the new object's ETag.
    @discardableResult
    func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String
    /// Deleting a missing key is not an error.
    func delete(_ key: String) async throws
    /// Deletes several keys (one request per thousand on S3).
    func delete(keys: [String]) async throws
    /// Keys starting with `prefix`, in lexicographic order, after `startAfter`.
    func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage
    /// A URL naming this store, without secrets.
    var description: String { get }
}

extension CloudStorage {
    public func get(_ key: String) async throws -> StoredObject { try await get(key, range: nil) }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8]) async throws -> String { try await put(key, bytes, condition: .none) }

    /// Every key under `prefix`, following pagination.
    public func listAll(prefix: String, startAfter: String? = nil) async throws -> [ObjectInfo] {
        var out: [ObjectInfo] = []
        var cursor = startAfter
        while true {
            let page = try await list(prefix: prefix, startAfter: cursor, limit: 1000)
            out.append(contentsOf: page.objects)
            guard page.isTruncated, let last = page.objects.last else { return out }
            cursor = last.key
        }
    }

    public func delete(keys: [String]) async throws {
        for key in keys { try await delete(key) }
    }

    /// Deletes every key under `prefix`.
    public func deleteAll(prefix: String) async throws {
        try await delete(keys: try await listAll(prefix: prefix).map(\.key))
    }
}

public enum PutCondition: Sendable, Equatable {
    case none
    case createOnly
    case ifMatch(String)
}

public struct StoredObject: Sendable {
    public var bytes: [UInt8]
    public var etag: String
    public init(bytes: [UInt8], etag: String) {
        self.bytes = bytes
        self.etag = etag
    }
}

public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int
    public var etag: String
    public init(key: String, size: Int, etag: String) {
        self.key = key
        self.size = size
        self.etag = etag
    }
}

public struct ListPage: Sendable {
    public var objects: [ObjectInfo]
    public var isTruncated: Bool
    public init(objects: [ObjectInfo], isTruncated: Bool) {
        self.objects = objects
        self.isTruncated = isTruncated
    }
}

/// The small set of failures the engine reasons about; provider codes stay below.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case notFound = "not found"
        case preconditionFailed = "precondition failed"
        case invalidKey = "invalid key"
        case throttled
        case auth = "not authorized"
        case transient = "unavailable"
        case fatal
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "storage \(kind.rawValue): \(message)" }
}

/// Ranged reads over HTTP (RFC 9110 byte ranges), shared by the cloud stores.
enum ByteRange {
    static func header(_ range: Range<Int>) -> String { "bytes=\(range.lowerBound)-\(range.upperBound - 1)" }
}

extension CloudStorage {
    /// What a read of an empty range, or of one starting past the end (HTTP 416),
    /// returns: no bytes, and the object's ETag (a missing object is still an error).
    func emptyRead(_ key: String) async throws -> StoredObject { StoredObject(bytes: [], etag: try await head(key).etag) }
}

/// Keys are '/'-separated, relative, and cannot climb out of their root.
public enum ObjectKey {
    public static func validate(_ key: String) throws(StorageError) {
        guard !key.isEmpty, key.utf8.count <= 1024, !key.hasPrefix("/") else {
            throw StorageError(.invalidKey, "keys are 1-1024 bytes and relative")
        }
        for component in key.split(separator: "/", omittingEmptySubsequences: false) {
            guard !component.isEmpty, component != ".", component != "..", !component.hasPrefix("."),
                !component.utf8.contains(0), !component.contains("\\")
            else { throw StorageError(.invalidKey, "key '\(key)' has an empty, hidden or parent component") }
        }
    }
}
