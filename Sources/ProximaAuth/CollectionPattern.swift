import ProximaCore

/// The collections a key may touch: a glob over collection names where `*`
/// matches any run of characters and `?` one character (`docs_*`). Names
/// use `A-Z a-z 0-9 _ -` only, so the two wildcards never mean themselves.
public struct CollectionPattern: Sendable, Equatable, CustomStringConvertible {
    public let glob: String

    public init(_ glob: String) throws(ProximaError) {
        guard !glob.isEmpty, glob.utf8.count <= 64,
            glob.utf8.allSatisfy({ $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || Validation.isNameByte($0) })
        else {
            throw ProximaError(.invalidRequest, "a collection pattern is 1-64 characters of A-Z, a-z, 0-9, '_', '-', '*' and '?'")
        }
        self.glob = glob
    }

    public var description: String { glob }

    /// Whether `name` matches, by the usual two-pointer glob walk (linear, with one backtrack point).
    public func matches(_ name: String) -> Bool {
        let p = Array(glob.utf8), s = Array(name.utf8)
        var i = 0, j = 0
        var star: Int?, resume = 0
        while j < s.count {
            if i < p.count, p[i] == UInt8(ascii: "?") || p[i] == s[j] {
                i += 1
                j += 1
            } else if i < p.count, p[i] == UInt8(ascii: "*") {
                star = i
                resume = j
                i += 1
            } else if let st = star {
                i = st + 1
                resume += 1
                j = resume
            } else {
                return false
            }
        }
        while i < p.count, p[i] == UInt8(ascii: "*") { i += 1 }
        return i == p.count
    }
}
