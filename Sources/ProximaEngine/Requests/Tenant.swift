import ProximaCore

/// Whose data a request touches: an object-store prefix of its own, with its
/// own collection names. Transports take it from a verified credential (or
/// `default` for local use without auth), never from the request itself.
public struct Tenant: Hashable, Sendable, CustomStringConvertible {
    public let name: String

    /// Names the rest of the bucket uses at the top level, which no tenant may take.
    static let reserved: Set<String> = ["catalog", "system"]

    /// Validates `name`: the collection-name alphabet, and not a reserved prefix.
    public init(_ name: String) throws(ProximaError) {
        do throws(ProximaError) { try Validation.collectionName(name) } catch {
            throw ProximaError(.invalidName, "tenant names are 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")
        }
        guard !Self.reserved.contains(name.lowercased()) else {
            throw ProximaError(.invalidName, "'\(name)' is reserved and cannot name a tenant")
        }
        self.name = name
    }

    private init(unchecked name: String) { self.name = name }

    /// The tenant of local use without authentication.
    public static let `default` = Tenant(unchecked: "default")

    public var description: String { name }
}

/// One collection of one tenant: what every per-collection request names.
public struct CollectionPath: Hashable, Sendable, CustomStringConvertible {
    public let tenant: Tenant
    public let name: String

    /// Validates the collection name (the tenant is valid by construction).
    public init(_ tenant: Tenant, _ name: String) throws(ProximaError) {
        try Validation.collectionName(name)
        self.tenant = tenant
        self.name = name
    }

    public var description: String { "\(tenant.name)/\(name)" }
}

extension CollectionPath: ExpressibleByStringLiteral {
    /// `"docs"` is the default tenant's collection `docs`: for tests and local
    /// tools. Transports build paths from runtime names with `init(_:_:)`.
    public init(stringLiteral name: String) {
        do { try self.init(.default, name) } catch { preconditionFailure("invalid collection name literal '\(name)': \(error)") }
    }
}
