import Testing

@testable import ProximaCore

@Suite struct CRC32CTests {
    @Test func instructionAndTablesAgree() {
        #if arch(x86_64)
        #expect(CRC32C.hardware)  // every x86-64 CPU this runs on has SSE4.2
        #endif
        var rng = SplitMix64(seed: 7)
        let bytes = (0..<10_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Every length up to 70 from every alignment up to 8, then long runs: the 8-byte loop and its tail.
        for offset in 0..<8 {
            for count in Array(0...70) + [1_000, 4_093, 9_000] where offset + count <= bytes.count {
                bytes.withUnsafeBytes { raw in
                    let piece = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count)])
                    #expect(CRC32C.update(0xFFFF_FFFF, piece) == CRC32C.tables.update(0xFFFF_FFFF, piece), "offset \(offset) count \(count)")
                }
            }
        }
        // Known answers, and a checksum extended piece by piece equals the whole one.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        bytes.withUnsafeBytes { raw in
            let whole = CRC32C.checksum(raw)
            let first = CRC32C.extend(0, UnsafeRawBufferPointer(rebasing: raw[0..<3_333]))
            #expect(CRC32C.extend(first, UnsafeRawBufferPointer(rebasing: raw[3_333...])) == whole)
        }
    }
}
