import CoreMetrics
import Tracing
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

/// A store that adds each request to the current `RequestTally`, if any, and
/// to the process's metrics: `proximadb_storage_operations_total{operation,outcome}`
/// and `proximadb_storage_operation_duration_seconds{operation}` (swift-metrics).
public struct TalliedStorage: CloudStorage {
    public let base: any CloudStorage

    public init(_ base: any CloudStorage) { self.base = base }

    public var description: String { base.description }

    /// Runs one operation, counting it by outcome and timing it.
    private func measured<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        try await withSpan("storage." + operation, ofKind: .client) { _ in try await counted(operation, body) }
    }

    private func counted<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        RequestTally.current?.add()
        let start = ContinuousClock.now
        var outcome = "ok"
        defer {
            Counter(label: "proximadb_storage_operations_total", dimensions: [("operation", operation), ("outcome", outcome)]).increment()
            CoreMetrics.Timer(label: "proximadb_storage_operation_duration_seconds", dimensions: [("operation", operation)])
                .recordInterval(since: start)
        }
        do {
            return try await body()
        } catch let e as StorageError {
            outcome = e.kind == .notFound ? "not_found" : e.kind == .preconditionFailed ? "precondition_failed" : "error"
            throw e
        } catch {
            outcome = "error"
            throw error
        }
    }

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        let object = try await measured("get") { try await base.get(key, range: range) }
        RequestTally.current?.add(bytes: object.bytes.count)
        return object
    }

    public func head(_ key: String) async throws -> ObjectInfo {
        try await measured("head") { try await base.head(key) }
    }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String {
        try await measured("put") { try await base.put(key, bytes, condition: condition) }
    }

    public func delete(_ key: String) async throws {
        try await measured("delete") { try await base.delete(key) }
    }

    public func delete(keys: [String]) async throws {
        try await measured("delete_many") { try await base.delete(keys: keys) }
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await measured("list") { try await base.list(prefix: prefix, startAfter: startAfter, limit: limit) }
    }
}

extension CoreMetrics.Timer {
    /// Records the time since `start` on the monotonic clock.
    public func recordInterval(since start: ContinuousClock.Instant) {
        let d = ContinuousClock.now - start
        recordNanoseconds(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000)
    }
}
