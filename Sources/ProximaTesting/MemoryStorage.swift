import ProximaCloud
import Synchronization

/// `CloudStorage` in memory, with the object stores' semantics (create-only
/// and if-match puts, ranged gets clamped to the end, byte-ordered listing
/// with pagination) and scheduled failures (`faults`), for tests that need a
/// store but no emulator, or a store that fails on cue. It passes the same
/// conformance suite as the real stores.
public final class MemoryStorage: CloudStorage {
    private struct Object {
        var bytes: [UInt8]
        var etag: String
    }

    private let objects = Mutex<[String: Object]>([:])
    private let nextTag = Atomic<Int>(0)
    public let faults = Faults()

    public init() {}

    public var description: String { "memory://" }

    /// Every key, for tests that inspect what was written.
    public var keys: [String] { objects.withLock { $0.keys.sorted(by: Self.byteOrder) } }

    /// S3's listing order: by UTF-8 bytes.
    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        try ObjectKey.validate(key)
        try await faults.before(.get, key: key)
        guard let o = objects.withLock({ $0[key] }) else { throw StorageError(.notFound, key) }
        let lower = min(range?.lowerBound ?? 0, o.bytes.count)
        let upper = min(range?.upperBound ?? o.bytes.count, o.bytes.count)
        try await faults.after(.get, key: key)
        return StoredObject(bytes: Array(o.bytes[lower..<max(lower, upper)]), etag: o.etag)
    }

    public func head(_ key: String) async throws -> ObjectInfo {
        try ObjectKey.validate(key)
        try await faults.before(.head, key: key)
        guard let o = objects.withLock({ $0[key] }) else { throw StorageError(.notFound, key) }
        return ObjectInfo(key: key, size: o.bytes.count, etag: o.etag)
    }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String {
        try ObjectKey.validate(key)
        try await faults.before(.put, key: key)
        let etag = "\"m\(nextTag.add(1, ordering: .relaxed).newValue)\""
        try objects.withLock { objects in
            switch condition {
            case .none: break
            case .createOnly:
                guard objects[key] == nil else { throw StorageError(.preconditionFailed, "\(key) exists") }
            case .ifMatch(let expected):
                guard objects[key]?.etag == expected else { throw StorageError(.preconditionFailed, "\(key) has changed") }
            }
            objects[key] = Object(bytes: bytes, etag: etag)
        }
        try await faults.after(.put, key: key)
        return etag
    }

    public func delete(_ key: String) async throws {
        try ObjectKey.validate(key)
        try await faults.before(.delete, key: key)
        _ = objects.withLock { $0.removeValue(forKey: key) }
        try await faults.after(.delete, key: key)
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await faults.before(.list, key: prefix)
        let all = objects.withLock { objects in
            objects.filter { entry in entry.key.hasPrefix(prefix) && (startAfter.map { Self.byteOrder($0, entry.key) } ?? true) }
                .map { ObjectInfo(key: $0.key, size: $0.value.bytes.count, etag: $0.value.etag) }
        }.sorted { Self.byteOrder($0.key, $1.key) }
        let page = Array(all.prefix(max(1, limit)))
        return ListPage(objects: page, isTruncated: all.count > page.count)
    }
}
