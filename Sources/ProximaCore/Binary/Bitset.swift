/// A fixed-size set of small integers, one bit each. A value type: copies
/// share storage until one of them changes (a row mask costs rows / 8 bytes
/// to copy).
public struct Bitset: Sendable, Equatable {
    private var words: [UInt64]
    public private(set) var count: Int

    /// `count` bits, all clear.
    public init(count: Int) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    @inline(__always)
    public subscript(_ i: Int) -> Bool {
        get { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
        set {
            if newValue { words[i >> 6] |= 1 << UInt64(i & 63) } else { words[i >> 6] &= ~(1 << UInt64(i & 63)) }
        }
    }

    /// Adds a bit at `count`.
    public mutating func append(_ bit: Bool) {
        if count & 63 == 0 { words.append(0) }
        count += 1
        self[count - 1] = bit
    }

    /// Bits set.
    public var setCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Calls `body` with each clear bit below `count`, in order.
    @inline(__always)
    public func forEachClear(_ body: (Int) throws -> Void) rethrows {
        for (w, word) in words.enumerated() {
            var clear = ~word
            if w == words.count - 1, count & 63 != 0 { clear &= (1 << UInt64(count & 63)) - 1 }
            while clear != 0 {
                let bit = clear.trailingZeroBitCount
                try body(w << 6 | bit)
                clear &= clear - 1
            }
        }
    }
}
