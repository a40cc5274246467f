/// CRC-32C (Castagnoli), the checksum S3, GCS and our own objects carry.
public enum CRC32C {
    static let tables = SlicingTables(polynomial: 0x82F6_3B78)

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }

    public static func checksum(_ buffer: UnsafeRawBufferPointer) -> UInt32 { tables.update(0xFFFF_FFFF, buffer) ^ 0xFFFF_FFFF }

    /// The checksum of what `checksum` covered followed by `buffer` (start from 0): for data met piece by piece.
    public static func extend(_ checksum: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        tables.update(checksum ^ 0xFFFF_FFFF, buffer) ^ 0xFFFF_FFFF
    }
}
