import CProximaKernels

/// CRC-32C (Castagnoli), the checksum S3, GCS and our own objects carry:
/// the CPU's crc32 instruction where there is one (SSE4.2), else tables.
public enum CRC32C {
    static let tables = SlicingTables(polynomial: 0x82F6_3B78)
    static let hardware = pk_has_crc32c() != 0

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }

    public static func checksum(_ buffer: UnsafeRawBufferPointer) -> UInt32 { update(0xFFFF_FFFF, buffer) ^ 0xFFFF_FFFF }

    /// The checksum of what `checksum` covered followed by `buffer` (start from 0): for data met piece by piece.
    public static func extend(_ checksum: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        update(checksum ^ 0xFFFF_FFFF, buffer) ^ 0xFFFF_FFFF
    }

    /// The running state over `buffer`, by instruction or by table (the same function).
    static func update(_ state: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        guard hardware, let base = buffer.baseAddress else { return tables.update(state, buffer) }
        return pk_crc32c_update(state, base.assumingMemoryBound(to: UInt8.self), buffer.count)
    }
}
