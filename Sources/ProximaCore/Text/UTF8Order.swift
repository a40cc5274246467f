import Foundation

extension String {
    /// Whether `self` sorts before `other` byte by byte in UTF-8: the order
    /// flush and compaction write a segment's ids in, and object stores list
    /// keys in. (`<` on String orders by canonical equivalence instead, and
    /// `utf8.lexicographicallyPrecedes` walks a byte at a time.)
    @inlinable public func precedesInUTF8(_ other: String) -> Bool {
        var a = self, b = other
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = Swift.min(x.count, y.count)
                let c = common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common)
                return c < 0 || (c == 0 && x.count < y.count)
            }
        }
    }
}
