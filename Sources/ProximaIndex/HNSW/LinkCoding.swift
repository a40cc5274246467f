import ProximaCore

/// Layer-0 links packed for the bucket: each node's list sorted and written
/// as Golomb–Rice coded gaps, one Rice parameter for the whole graph. Node
/// numbers carry no locality (nodes are in row order), so a gap is about
/// `count / degree` and costs log₂ of that plus two bits — 16 bits a link at
/// 466k nodes and 32 links, not 32. A list's stored order is not kept: a
/// search visits every link of a node it expands.
enum LinkCoding {
    /// The stream (little-endian 64-bit words, bits taken low first) and its
    /// Rice parameter. Only the first `counts0[node]` slots of a node count.
    static func encode(links0: [Int32], counts0: [UInt16], maxLinks0: Int) -> (k: Int, words: [UInt64]) {
        var sorted = [UInt32](repeating: 0, count: links0.count)
        var gapSum: UInt64 = 0, gaps: UInt64 = 0
        for node in counts0.indices {
            let start = node * maxLinks0, n = Int(counts0[node])
            for i in 0..<n { sorted[start + i] = UInt32(links0[start + i]) }
            sorted[start..<(start + n)].sort()
            if n > 0 { gapSum += UInt64(sorted[start + n - 1]) }
            gaps += UInt64(n)
        }
        // The parameter nearest the mean gap, then the cheapest of it and its neighbours.
        let mean = gaps == 0 ? 1 : max(1, gapSum / gaps)
        let guess = 63 - mean.leadingZeroBitCount
        let k = (max(0, guess - 1)...(guess + 1)).map { ($0, cost(sorted, counts0, maxLinks0, k: $0)) }.min { $0.1 < $1.1 }!.0
        var out = BitWriter()
        for node in counts0.indices {
            let start = node * maxLinks0
            var previous: UInt32 = 0
            for i in 0..<Int(counts0[node]) {
                let gap = UInt64(sorted[start + i] - previous)
                previous = sorted[start + i]
                out.zeros(Int(gap >> k))
                out.write(1, bits: 1)
                out.write(gap & ((1 << k) - 1), bits: k)
            }
        }
        return (k, out.finish())
    }

    private static func cost(_ sorted: [UInt32], _ counts0: [UInt16], _ maxLinks0: Int, k: Int) -> UInt64 {
        var bits: UInt64 = 0
        for node in counts0.indices {
            let start = node * maxLinks0
            var previous: UInt32 = 0
            for i in 0..<Int(counts0[node]) {
                bits += UInt64(sorted[start + i] - previous) >> k + 1 + UInt64(k)
                previous = sorted[start + i]
            }
        }
        return bits
    }

    /// `maxLinks0` slots per node (unused ones -1) from `encode`'s stream;
    /// every link is checked to name a node.
    static func decode(words: [UInt64], k: Int, counts0: [UInt16], maxLinks0: Int) throws(FormatError) -> [Int32] {
        let count = counts0.count
        guard (0..<32).contains(k) else { throw FormatError("bad HNSW link coding") }
        var links = [Int32](repeating: -1, count: count * maxLinks0)
        var reader = BitReader(words: words, maxZeros: (count >> k) + 1)
        for node in 0..<count {
            let n = Int(counts0[node])
            guard n <= maxLinks0 else { throw FormatError("too many links") }
            var previous = 0
            for i in 0..<n {
                let gap = try reader.zeros() << k | Int(try reader.read(bits: k))
                previous += gap
                guard previous < count else { throw FormatError("HNSW links point outside the index") }
                links[node * maxLinks0 + i] = Int32(previous)
            }
        }
        guard reader.isAtEnd else { throw FormatError("trailing bits after the HNSW links") }
        return links
    }
}

private struct BitWriter {
    var words: [UInt64] = []
    var pending: UInt64 = 0
    var used = 0

    /// The low `n` bits of `value` (n ≤ 64).
    mutating func write(_ value: UInt64, bits n: Int) {
        guard n > 0 else { return }
        pending |= value << used
        if used + n >= 64 {
            words.append(pending)
            pending = value >> (64 - used)  // what did not fit (a shift by 64 gives 0)
            used += n - 64
        } else {
            used += n
        }
    }

    mutating func zeros(_ n: Int) {
        var left = n
        while left > 0 {
            let c = min(left, 32)
            write(0, bits: c)
            left -= c
        }
    }

    mutating func finish() -> [UInt64] {
        if used > 0 { words.append(pending) }
        return words
    }
}

private struct BitReader {
    let words: [UInt64]
    /// A run of zeros longer than any gap can be is damage, not a gap.
    let maxZeros: Int
    var word = 0
    var bit = 0

    /// Nothing left but the last word's padding.
    var isAtEnd: Bool { word == words.count || (word == words.count - 1 && words[word] >> bit == 0) }

    mutating func read(bits n: Int) throws(FormatError) -> UInt64 {
        guard n > 0 else { return 0 }
        guard word < words.count else { throw FormatError("truncated HNSW links") }
        let available = 64 - bit
        var value = words[word] >> bit
        if n < available {
            bit += n
        } else {
            word += 1
            bit = n - available
            if bit > 0 {
                guard word < words.count else { throw FormatError("truncated HNSW links") }
                value |= words[word] << available
            }
        }
        return n == 64 ? value : value & ((1 << n) - 1)
    }

    /// Zeros up to the next one bit, which is consumed.
    mutating func zeros() throws(FormatError) -> Int {
        var run = 0
        while true {
            guard word < words.count else { throw FormatError("truncated HNSW links") }
            let rest = words[word] >> bit
            if rest != 0 {
                let z = rest.trailingZeroBitCount
                bit += z + 1
                if bit == 64 { (word, bit) = (word + 1, 0) }
                return run + z
            }
            run += 64 - bit
            (word, bit) = (word + 1, 0)
            guard run <= maxZeros else { throw FormatError("bad HNSW link coding") }
        }
    }
}
