/// What a credential may do. Each role includes the ones below it:
/// read (get, search, list), write (also insert, update, delete vectors),
/// admin (also create, change and drop collections, flush, compact, keys).
public enum Role: String, Sendable, CaseIterable, Comparable {
    case read, write, admin

    var rank: Int {
        switch self {
        case .read: 0
        case .write: 1
        case .admin: 2
        }
    }

    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }

    /// The role a JWT's `scope` (space-separated) or `scp` (array) grants: the highest `proximadb:*` it names.
    public static func fromScopes(_ scopes: [String]) -> Role? {
        scopes.compactMap { s in s.hasPrefix("proximadb:") ? Role(rawValue: String(s.dropFirst("proximadb:".count))) : nil }.max()
    }
}
