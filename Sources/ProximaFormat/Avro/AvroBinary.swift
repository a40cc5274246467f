import ProximaCore

/// Avro's binary encoding (spec 1.11, "Binary Encoding"): zig-zag varint
/// longs, little-endian floats, length-prefixed strings and bytes.
public struct AvroWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    /// Writes into `buffer`'s storage (emptied) rather than a new array.
    public init(reusing buffer: consuming [UInt8], capacity: Int) {
        bytes = consume buffer
        bytes.removeAll(keepingCapacity: true)
        bytes.reserveCapacity(capacity)
    }

    /// Avro's zig-zag mapping of a signed long, written as a varint.
    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    public mutating func long(_ v: Int64) {
        var z = Self.zigzag(v)
        while z >= 0x80 {
            bytes.append(UInt8(z & 0x7F) | 0x80)
            z >>= 7
        }
        bytes.append(UInt8(z))
    }

    public mutating func int(_ v: Int) { long(Int64(v)) }

    public mutating func float(_ f: Float) {
        let bits = f.bitPattern.littleEndian
        withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
    }

    public mutating func floats(_ values: [Float]) {
        values.withUnsafeBytes { raw in
            #if _endian(little)
            bytes.append(contentsOf: raw)
            #else
            for f in values { float(f) }
            #endif
        }
    }

    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            long(Int64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func bytes(_ b: some Collection<UInt8>) {
        long(Int64(b.count))
        bytes.append(contentsOf: b)
    }

    public mutating func raw(_ b: some Sequence<UInt8>) { bytes.append(contentsOf: b) }

    /// A union branch index.
    public mutating func branch(_ index: Int) { long(Int64(index)) }

    public var count: Int { bytes.count }

    /// Replaces bytes already written, from `offset` on.
    mutating func overwrite(at offset: Int, with b: some Collection<UInt8>) {
        bytes.replaceSubrange(offset..<(offset + b.count), with: b)
    }

    /// Bytes `long(v)` writes.
    public static func size(ofLong v: Int64) -> Int {
        // Seven bits a byte; zero still takes one.
        max(1, (64 - zigzag(v).leadingZeroBitCount + 6) / 7)
    }

    /// Bytes `string(s)` writes.
    public static func size(ofString s: String) -> Int {
        let n = s.utf8.count
        return size(ofLong: Int64(n)) + n
    }
}

public struct AvroReader {
    private let base: UnsafeRawBufferPointer
    public private(set) var offset: Int

    public init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = base
        self.offset = offset
    }

    public var isAtEnd: Bool { offset >= base.count }

    public mutating func long() throws(FormatError) -> Int64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < base.count, shift < 64 else { throw FormatError("truncated or malformed varint") }
            let b = base[offset]
            offset += 1
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
        }
        return Int64(bitPattern: result >> 1) ^ -Int64(bitPattern: result & 1)
    }

    public mutating func int() throws(FormatError) -> Int {
        let v = try long()
        guard v >= Int64(Int32.min), v <= Int64(Int32.max) else { throw FormatError("int out of range") }
        return Int(v)
    }

    public mutating func float() throws(FormatError) -> Float {
        guard offset + 4 <= base.count else { throw FormatError("truncated float") }
        let bits = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        offset += 4
        return Float(bitPattern: UInt32(littleEndian: bits))
    }

    public mutating func rawBytes(count: Int) throws(FormatError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= base.count - offset else { throw FormatError("truncated data") }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: base[offset..<(offset + count)])
    }

    public mutating func bytes() throws(FormatError) -> [UInt8] {
        let n = try long()
        guard n >= 0, n <= Int64(base.count - offset) else { throw FormatError("bad length") }
        return Array(try rawBytes(count: Int(n)))
    }

    public mutating func string() throws(FormatError) -> String {
        let n = try long()
        guard n >= 0, n <= Int64(base.count - offset) else { throw FormatError("bad string length") }
        let raw = try rawBytes(count: Int(n))
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw FormatError("invalid UTF-8")
        }
        return s
    }

    /// The item count of an array or map block; a negative count is followed by the block's size in bytes.
    public mutating func blockCount() throws(FormatError) -> Int64 {
        let count = try long()
        guard count >= 0 else {
            guard count != .min else { throw FormatError("bad block count") }
            _ = try long()
            return -count
        }
        return count
    }

    /// `["null", "string"]` holding a JSON object's text (how records carry metadata); null is empty.
    public mutating func optionalJSONObject(field: String) throws(FormatError) -> [String: JSONValue] {
        switch try long() {
        case 0: return [:]
        case 1:
            guard case .object(let o) = try? JSONParser.parse(try string()) else { throw FormatError("\(field) is not a JSON object") }
            return o
        default: throw FormatError("bad union branch for \(field)")
        }
    }

    /// An Avro array of floats (blocks of count, optionally with byte size).
    public mutating func floatArray() throws(FormatError) -> [Float] {
        var out: [Float] = []
        while true {
            let count = try blockCount()
            if count == 0 { return out }
            guard count <= Int64(base.count - offset) / 4 else { throw FormatError("bad array length") }
            let raw = try rawBytes(count: Int(count) * 4)
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: Int(count)))
            out.withUnsafeMutableBytes { dst in
                dst.baseAddress!.advanced(by: start * 4).copyMemory(from: raw.baseAddress!, byteCount: raw.count)
            }
            #if !_endian(little)
            for i in start..<out.count { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
            #endif
        }
    }
}

/// A malformed or corrupted object: never returned as data.
