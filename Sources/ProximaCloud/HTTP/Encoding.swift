import Foundation

/// Base64 as the clouds' APIs want it: standard (Content-MD5, Azure keys and
/// block ids) or URL-safe without padding (JWTs), through Foundation.
enum Base64 {
    static func encode(_ bytes: [UInt8], url: Bool = false) -> String {
        let standard = Data(bytes).base64EncodedString()
        guard url else { return standard }
        return String(standard.compactMap { c -> Character? in c == "+" ? "-" : c == "/" ? "_" : c == "=" ? nil : c })
    }

    /// Either alphabet, with or without padding; nil for anything else.
    static func decode(_ text: String) -> [UInt8]? {
        var s = String(text.filter { !$0.isWhitespace }.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        s += String(repeating: "=", count: (4 - s.utf8.count % 4) % 4)
        return Data(base64Encoded: s).map { Array($0) }
    }
}

/// Random bytes as lowercase hex: unique ids for temporary objects and multipart boundaries.
func randomHex(_ bytes: Int) -> String {
    var g = SystemRandomNumberGenerator()
    return SigV4Signer.hex((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &g) })
}
