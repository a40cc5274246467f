import Foundation
import ProximaCore

/// A byte-array column held as one buffer rather than a `String` per value:
/// value i is `bytes[starts[i]..<starts[i + 1]]`. Decoding a million ids into
/// Strings (and the arrays of them) was most of a cold segment open; kept
/// packed, an id becomes a String only when a row is answered, and ids
/// compare by their bytes.
public struct PackedStrings: Sendable, RandomAccessCollection {
    public private(set) var bytes: [UInt8] = []
    /// `count + 1` offsets into `bytes`.
    public private(set) var starts: [UInt32] = [0]
    /// Which values are null (empty in `bytes`); empty until one is.
    private var nulls = Bitset(count: 0)
    /// Every byte is ASCII: each value is its own NFC form, and byte order is `String`'s order.
    public private(set) var isASCII = true

    public init() {}

    /// Packs `values` (for rows built in memory).
    public init<S: Sequence>(_ values: S) where S.Element == String {
        for v in values { append(utf8: Array(v.utf8)) }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { starts.count - 1 }

    /// Value i as a String; "" for a null.
    public subscript(i: Int) -> String {
        withBytes(i) { String(decoding: $0, as: UTF8.self) }
    }

    public func isNull(_ i: Int) -> Bool { i < nulls.count && nulls[i] }

    /// Calls `body` with value i's bytes.
    @inlinable public func withBytes<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let (lo, hi) = (Int(starts[i]), Int(starts[i + 1]))
        return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[lo..<hi])) }
    }

    /// Value i against value j in byte order: negative, zero or positive.
    public func compare(_ i: Int, _ j: Int) -> Int {
        withBytes(j) { compare(i, $0) }
    }

    /// Value i against `key`'s bytes in byte order: negative, zero or positive.
    public func compare(_ i: Int, _ key: UnsafeBufferPointer<UInt8>) -> Int {
        withBytes(i) { a in
            let common = Swift.min(a.count, key.count)
            let c = common == 0 ? 0 : Int(memcmp(a.baseAddress!, key.baseAddress!, common))
            return c != 0 ? c : a.count - key.count
        }
    }

    /// Reserves room for `count` values of `bytes` bytes in all.
    mutating func reserve(values count: Int, bytes total: Int) {
        starts.reserveCapacity(count + 1)
        bytes.reserveCapacity(total)
    }

    /// Appends a value that is valid UTF-8 (the caller checked), `ascii` when all its bytes are.
    mutating func append(utf8 value: UnsafeBufferPointer<UInt8>, ascii: Bool) {
        if !ascii { isASCII = false }
        bytes.append(contentsOf: value)
        starts.append(UInt32(bytes.count))
        if nulls.count > 0 { nulls.append(false) }
    }

    mutating func append(utf8 value: [UInt8]) {
        value.withUnsafeBufferPointer { append(utf8: $0, ascii: !$0.contains { $0 >= 0x80 }) }
    }

    /// Appends a PLAIN page's byte arrays from `offset` (each a u32 length
    /// and its bytes), one per level of 1, a null per level of 0; checks
    /// they are UTF-8. One pass over the page, no String made.
    mutating func appendPlain(_ page: UnsafeRawBufferPointer, at offset: inout Int, levels: [UInt8]) throws(FormatError) {
        guard let base = page.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            if levels.contains(1) { throw FormatError("parquet: values truncated") }
            for _ in levels { appendNull() }
            return
        }
        for d in levels {
            if d == 0 {
                appendNull()
                continue
            }
            guard offset + 4 <= page.count else { throw FormatError("parquet: values truncated") }
            let n = Int(UInt32(littleEndian: page.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset += 4
            guard n <= page.count - offset else { throw FormatError("parquet: values truncated") }
            guard bytes.count + n <= Int(UInt32.max) else { throw FormatError("parquet: a byte-array column of over 4 GiB") }
            let value = UnsafeBufferPointer(start: base + offset, count: n)
            offset += n
            var high: UInt8 = 0
            for b in value { high |= b }
            if high >= 0x80 {
                guard String(validating: value, as: UTF8.self) != nil else { throw FormatError("parquet: string value is not UTF-8") }
                isASCII = false
            }
            bytes.append(contentsOf: value)
            starts.append(UInt32(truncatingIfNeeded: bytes.count))
            if nulls.count > 0 { nulls.append(false) }
        }
    }

    mutating func appendNull() {
        while nulls.count < count { nulls.append(false) }
        nulls.append(true)
        starts.append(UInt32(bytes.count))
    }
}
