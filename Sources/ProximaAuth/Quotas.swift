import ProximaCore

/// Per-tenant limits: collections, vectors and stored bytes. Past one, the
/// request that would grow the tenant gets 429 `quota_exceeded`.
public struct Quotas: Sendable, Equatable {
    public var maxCollections: Int?
    public var maxVectors: Int?
    public var maxBytes: Int?

    public init(maxCollections: Int? = nil, maxVectors: Int? = nil, maxBytes: Int? = nil) {
        self.maxCollections = maxCollections
        self.maxVectors = maxVectors
        self.maxBytes = maxBytes
    }

    public var isEmpty: Bool { maxCollections == nil && maxVectors == nil && maxBytes == nil }

    /// Each limit of `self`, else `fallback`'s: a key's own quotas win over the server's flags.
    public func over(_ fallback: Quotas) -> Quotas {
        Quotas(maxCollections: maxCollections ?? fallback.maxCollections, maxVectors: maxVectors ?? fallback.maxVectors,
               maxBytes: maxBytes ?? fallback.maxBytes)
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        if let maxCollections { o["max_collections"] = .int(Int64(maxCollections)) }
        if let maxVectors { o["max_vectors"] = .int(Int64(maxVectors)) }
        if let maxBytes { o["max_bytes"] = .int(Int64(maxBytes)) }
        return .object(o)
    }

    public init(parsing json: JSONValue) throws(ProximaError) {
        if json.isNull { return }
        guard case .object(let o) = json else { throw ProximaError(.invalidRequest, "quotas is an object") }
        func limit(_ key: String) throws(ProximaError) -> Int? {
            guard let v = o[key], !v.isNull else { return nil }
            guard let n = v.integer, n >= 0 else { throw ProximaError(.invalidRequest, "\(key) must be a non-negative integer") }
            return Int(n)
        }
        maxCollections = try limit("max_collections")
        maxVectors = try limit("max_vectors")
        maxBytes = try limit("max_bytes")
    }
}
