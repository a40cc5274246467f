import Synchronization

/// Counts the object-store requests made inside a scope (`$current.withValue`),
/// however deep in the call tree and whichever task issues them: how the
/// engine reports requests per query.
public final class RequestTally: Sendable {
    @TaskLocal public static var current: RequestTally?

    private let n = Atomic<Int>(0)
    private let received = Atomic<Int>(0)

    public init() {}

    /// Requests made.
    public var count: Int { n.load(ordering: .relaxed) }
    /// Bytes of object bodies read.
    public var bytes: Int { received.load(ordering: .relaxed) }

    func add() { n.add(1, ordering: .relaxed) }
    func add(bytes: Int) { received.add(bytes, ordering: .relaxed) }
}

/// A store that adds each request to the current `RequestTally`, if any.
public struct TalliedStorage: CloudStorage {
    public let base: any CloudStorage

    public init(_ base: any CloudStorage) { self.base = base }

    public var description: String { base.description }

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        RequestTally.current?.add()
        let object = try await base.get(key, range: range)
        RequestTally.current?.add(bytes: object.bytes.count)
        return object
    }

    public func head(_ key: String) async throws -> ObjectInfo {
        RequestTally.current?.add()
        return try await base.head(key)
    }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String {
        RequestTally.current?.add()
        return try await base.put(key, bytes, condition: condition)
    }

    public func delete(_ key: String) async throws {
        RequestTally.current?.add()
        try await base.delete(key)
    }

    public func delete(keys: [String]) async throws {
        RequestTally.current?.add()
        try await base.delete(keys: keys)
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        RequestTally.current?.add()
        return try await base.list(prefix: prefix, startAfter: startAfter, limit: limit)
    }
}
