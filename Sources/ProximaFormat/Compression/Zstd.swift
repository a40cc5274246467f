import ProximaCore
import CZstd

/// zstd through libzstd (Debian's libzstd-dev), the segments' page codec.
public enum Zstd {
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = 3) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            ZSTD_compress(dst.baseAddress, bound, input.baseAddress, input.count, level)
        }
        // Compression into a buffer of compressBound size cannot fail.
        precondition(ZSTD_isError(written) == 0, "zstd: \(String(cString: ZSTD_getErrorName(written)))")
        out.removeSubrange(written...)
        return out
    }

    public static func compress(_ input: [UInt8], level: Int32 = 3) -> [UInt8] {
        input.withUnsafeBytes { compress($0, level: level) }
    }

    /// Decompresses a frame whose decompressed size the caller knows (Parquet
    /// page headers carry it); any other size is damage.
    public static func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(FormatError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: expectedSize)
        let n = out.withUnsafeMutableBytes { dst in
            ZSTD_decompress(dst.baseAddress, expectedSize, input.baseAddress, input.count)
        }
        if ZSTD_isError(n) != 0 { throw FormatError("zstd: \(String(cString: ZSTD_getErrorName(n)))") }
        guard n == expectedSize else { throw FormatError("zstd: \(n) bytes where \(expectedSize) were expected") }
        return out
    }
}
