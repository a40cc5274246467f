/// A store that answers every request `latency` later than `base` does, as a
/// remote object store would: for benchmarks of the read path against a
/// local directory (`serve --storage-latency-ms`), never for production.
public struct LatencyStorage: CloudStorage {
    public let base: any CloudStorage
    public let latency: Duration

    public init(_ base: any CloudStorage, latency: Duration) {
        self.base = base
        self.latency = latency
    }

    public var description: String { base.description }

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        try await Task.sleep(for: latency)
        return try await base.get(key, range: range)
    }

    public func head(_ key: String) async throws -> ObjectInfo {
        try await Task.sleep(for: latency)
        return try await base.head(key)
    }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String {
        try await Task.sleep(for: latency)
        return try await base.put(key, bytes, condition: condition)
    }

    public func delete(_ key: String) async throws {
        try await Task.sleep(for: latency)
        try await base.delete(key)
    }

    public func delete(keys: [String]) async throws {
        try await Task.sleep(for: latency)
        try await base.delete(keys: keys)
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        try await Task.sleep(for: latency)
        return try await base.list(prefix: prefix, startAfter: startAfter, limit: limit)
    }
}
