/// Just enough XML for cloud answers (S3 listings and errors, STS, Azure
/// listings): the text of elements by name, in document order. The services'
/// answers are flat, namespaced documents without CDATA or mixed content.
public struct XMLScanner {
    let text: String

    public init(_ bytes: [UInt8]) { text = String(decoding: bytes, as: UTF8.self) }
    public init(_ text: String) { self.text = text }

    /// Inner text of every `<name>…</name>` (attributes on the start tag allowed), unescaped.
    public func values(_ name: String) -> [String] { blocks(name).map(Self.unescape) }

    public func value(_ name: String) -> String? { values(name).first }

    /// Raw inner XML of every `<name>…</name>`, for nested scanning.
    public func blocks(_ name: String) -> [String] {
        var out: [String] = []
        var rest = text[...]
        let close = "</\(name)>"
        while let open = rest.firstRange(of: "<\(name)") {
            let after = rest[open.upperBound...]
            guard let next = after.first, next == ">" || next == " " || next == "/" else {
                rest = after
                continue
            }
            guard let tagEnd = after.firstIndex(of: ">") else { break }
            if tagEnd > after.startIndex, after[after.index(before: tagEnd)] == "/" {  // <name/>
                out.append("")
                rest = after[after.index(after: tagEnd)...]
                continue
            }
            let contentStart = after.index(after: tagEnd)
            guard let end = after[contentStart...].firstRange(of: close) else { break }
            out.append(String(after[contentStart..<end.lowerBound]))
            rest = after[end.upperBound...]
        }
        return out
    }

    public static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].firstIndex(of: ";"), s.distance(from: i, to: semi) <= 10 {
                let entity = s[s.index(after: i)..<semi]
                var replacement: String?
                switch entity {
                case "amp": replacement = "&"
                case "lt": replacement = "<"
                case "gt": replacement = ">"
                case "quot": replacement = "\""
                case "apos": replacement = "'"
                default:
                    if entity.hasPrefix("#x"), let v = UInt32(entity.dropFirst(2), radix: 16), let u = Unicode.Scalar(v) {
                        replacement = String(Character(u))
                    } else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()), let u = Unicode.Scalar(v) {
                        replacement = String(Character(u))
                    }
                }
                if let replacement {
                    out += replacement
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }

    public static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }
}
