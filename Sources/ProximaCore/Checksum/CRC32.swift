/// CRC-32 (IEEE 802.3, as in gzip), the checksum Parquet page headers carry.
public enum CRC32 {
    static let tables = SlicingTables(polynomial: 0xEDB8_8320)

    public static func checksum(_ buffer: UnsafeRawBufferPointer) -> UInt32 { tables.update(0xFFFF_FFFF, buffer) ^ 0xFFFF_FFFF }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}

/// Slicing-by-8 tables for a reflected CRC-32 polynomial: about 8 bytes per
/// step without hardware intrinsics.
struct SlicingTables: Sendable {
    let t: [UInt32]  // 8 tables of 256, one after another

    init(polynomial: UInt32) {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ polynomial : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            for s in 1..<8 { t[s * 256 + i] = (t[(s - 1) * 256 + i] >> 8) ^ t[Int(t[(s - 1) * 256 + i] & 0xFF)] }
        }
        self.t = t
    }

    func update(_ start: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        t.withUnsafeBufferPointer { t in
            var crc = start
            var i = 0
            let n = buffer.count
            while i + 8 <= n {
                let lo = buffer.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian ^ crc
                let hi = buffer.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian
                crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)] ^ t[5 * 256 + Int((lo >> 16) & 0xFF)]
                    ^ t[4 * 256 + Int(lo >> 24)] ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                crc = t[Int((crc ^ UInt32(buffer[i])) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
            return crc
        }
    }
}
