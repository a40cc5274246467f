import ProximaCore

/// Parquet's RLE / bit-packed hybrid encoding, used here for repetition and
/// definition levels (bit width 1: levels are 0 or 1 in our schemas).
enum LevelCoding {
    /// Runs of 8 or more equal levels become RLE runs; the rest is bit-packed
    /// in groups of 8 (the last group padded, which readers ignore).
    static func encode(_ levels: [UInt8], into out: inout [UInt8]) {
        let n = levels.count
        var i = 0
        func varint(_ v: Int) {
            var v = UInt64(v)
            while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            out.append(UInt8(v))
        }
        func runLength(at start: Int) -> Int {
            var j = start + 1
            while j < n && levels[j] == levels[start] { j += 1 }
            return j - start
        }
        while i < n {
            let run = runLength(at: i)
            if run >= 8 {
                varint(run << 1)
                out.append(levels[i])
                i += run
                continue
            }
            // Bit-packed groups until a long run starts at a group boundary.
            var packed: [UInt8] = []
            var groups = 0
            repeat {
                var byte: UInt8 = 0
                for b in 0..<8 where i + b < n && levels[i + b] != 0 { byte |= 1 << UInt8(b) }
                packed.append(byte)
                groups += 1
                i += 8
            } while i < n && runLength(at: i) < 8 && groups < 63
            varint(groups << 1 | 1)
            out += packed
        }
    }

    /// Decodes `count` levels of bit width 1 from `bytes`.
    static func decode(_ bytes: ArraySlice<UInt8>, count: Int) throws(FormatError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var p = bytes.startIndex
        func varint() throws(FormatError) -> Int {
            var result = 0, shift = 0
            while true {
                guard p < bytes.endIndex, shift < 63 else { throw FormatError("parquet: truncated level run") }
                let b = bytes[p]
                p += 1
                result |= Int(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
        }
        while out.count < count {
            let header = try varint()
            if header & 1 == 0 {
                let run = header >> 1
                guard p < bytes.endIndex, run <= count - out.count, run > 0 else { throw FormatError("parquet: bad RLE run") }
                let v = bytes[p]
                p += 1
                guard v <= 1 else { throw FormatError("parquet: level \(v) out of range") }
                out.append(contentsOf: repeatElement(v, count: run))
            } else {
                let groups = header >> 1
                guard groups > 0, groups <= bytes.endIndex - p else { throw FormatError("parquet: bad bit-packed run") }
                for g in 0..<groups {
                    let byte = bytes[p + g]
                    for b in 0..<8 where out.count < count { out.append((byte >> UInt8(b)) & 1) }
                }
                p += groups
            }
        }
        return out
    }
}
