/// Little-endian fields for the binary file formats (index files, segment index files).
public struct ByteWriter {
    public init() {}
    public var out: [UInt8] = []
    public mutating func bytes(_ b: some Sequence<UInt8>) { out.append(contentsOf: b) }
    public mutating func bytes(_ raw: UnsafeRawBufferPointer) { out.append(contentsOf: raw) }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    public mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    public mutating func align(_ n: Int) { while out.count % n != 0 { out.append(0) } }
}

/// Reads what `ByteWriter` wrote; every overrun is a `FormatError`, never a trap.
public struct ByteReader {
    public let data: [UInt8]
    public var offset = 0
    public init(_ data: [UInt8]) { self.data = data }
    public var isAtEnd: Bool { offset == data.count }
    public var remaining: Int { data.count - offset }

    public mutating func bytes(_ n: Int) throws(FormatError) -> [UInt8] {
        guard n >= 0, offset + n <= data.count else { throw FormatError("truncated index file") }
        defer { offset += n }
        return Array(data[offset..<(offset + n)])
    }

    public mutating func array<T>(_ type: T.Type, count: Int) throws(FormatError) -> [T] {
        let n = count * MemoryLayout<T>.stride
        guard count >= 0, offset + n <= data.count else { throw FormatError("truncated index file") }
        defer { offset += n }
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            data.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]))
            }
            initialized = count
        }
    }

    /// The next `n` bytes without copying them.
    public mutating func slice(_ n: Int) throws(FormatError) -> ArraySlice<UInt8> {
        guard n >= 0, offset + n <= data.count else { throw FormatError("truncated index file") }
        defer { offset += n }
        return data[offset..<(offset + n)]
    }

    public mutating func u32() throws(FormatError) -> UInt32 { UInt32(littleEndian: try load(UInt32.self)) }
    public mutating func u64() throws(FormatError) -> UInt64 { UInt64(littleEndian: try load(UInt64.self)) }

    private mutating func load<T: FixedWidthInteger>(_ type: T.Type) throws(FormatError) -> T {
        let n = MemoryLayout<T>.size
        guard offset + n <= data.count else { throw FormatError("truncated index file") }
        defer { offset += n }
        return data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
    public mutating func i32() throws(FormatError) -> Int32 { Int32(bitPattern: try u32()) }
    public mutating func align(_ n: Int) throws(FormatError) {
        while offset % n != 0 {
            guard offset < data.count, data[offset] == 0 else { throw FormatError("bad padding") }
            offset += 1
        }
    }
}
