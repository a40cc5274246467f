import ProximaCore
import ProximaEngine

/// Who a request acts for, as a verified credential says: never anything the
/// caller can set in the request itself.
public struct Principal: Sendable, Equatable {
    /// Whose collections the request reaches: a prefix of the bucket of its own.
    public var tenant: Tenant
    public var role: Role
    /// Only collections matching this, when set.
    public var collections: CollectionPattern?
    /// How logs and rate limits name the credential: `key:<id>`, `jwt:<sub>` or `anonymous`. Never a secret.
    public var subject: String
    /// Limits on what the tenant may hold, from the key (or the server's flags).
    public var quotas: Quotas

    public init(tenant: Tenant, role: Role, collections: CollectionPattern? = nil, subject: String, quotas: Quotas = Quotas()) {
        self.tenant = tenant
        self.role = role
        self.collections = collections
        self.subject = subject
        self.quotas = quotas
    }

    /// Local use without authentication: the default tenant, every action.
    public static let anonymous = Principal(tenant: .default, role: .admin, subject: "anonymous")

    /// Throws `forbidden` unless the role allows `needed` and, for a named
    /// collection, the pattern matches it.
    public func authorize(_ needed: Role, collection: String? = nil) throws(ProximaError) {
        guard role >= needed else {
            throw ProximaError(.forbidden, "this credential's role '\(role.rawValue)' does not allow this; it needs '\(needed.rawValue)'")
        }
        if let collection, let collections, !collections.matches(collection) {
            throw ProximaError(.forbidden, "this credential is limited to collections matching '\(collections.glob)'")
        }
    }

    /// Whether a listing may show `collection` to this principal.
    public func maySee(_ collection: String) -> Bool { collections?.matches(collection) ?? true }
}
