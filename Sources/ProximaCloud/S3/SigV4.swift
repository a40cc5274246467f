import Crypto
import ProximaCore

/// AWS credentials; `expiration` (Unix seconds) is set for temporary ones.
public struct AWSCredentials: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public var expiration: Int64?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Int64? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }
}

/// Signature Version 4 (AWS General Reference, "Signing AWS API requests"),
/// written here: a pure function of the request, the credentials and the time.
///
/// S3 signs the path as sent (no normalisation, single encoding); other
/// services, and the published test suite, normalise and encode it twice.
public struct SigV4Signer: Sendable {
    public var region: String
    public var service: String
    public var normalizesPath: Bool
    public var encodesPathTwice: Bool

    public init(region: String, service: String) {
        self.region = region
        self.service = service
        normalizesPath = service != "s3"
        encodesPathTwice = service != "s3"
    }

    public struct Signed: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var authorization: String
        /// Headers to add to the request (Authorization, X-Amz-Date, and the token).
        public var headers: [(String, String)]
    }

    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// - Parameters:
    ///   - path: the path as it goes on the wire (already percent-encoded, see `encodePath`).
    ///   - query: decoded query items; encoded and sorted here.
    ///   - headers: headers to sign (must include `host`).
    ///   - payloadHash: hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    ///   - signPayloadHeader: also sign `x-amz-content-sha256` (S3 requires it).
    public func sign(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String,
        credentials: AWSCredentials, date: Int64, signPayloadHeader: Bool
    ) -> Signed {
        let amzDate = Self.amzDate(date)
        let day = String(amzDate.prefix(8))
        var all = headers
        all.append(("x-amz-date", amzDate))
        if signPayloadHeader { all.append(("x-amz-content-sha256", payloadHash)) }
        if let token = credentials.sessionToken { all.append(("x-amz-security-token", token)) }

        // Canonical headers: lower-case names, trimmed values with inner runs of spaces collapsed, repeated names joined.
        var grouped: [String: [String]] = [:]
        for (name, value) in all { grouped[name.lowercased(), default: []].append(Self.trimmed(value)) }
        let names = grouped.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")

        var canonicalPath = path.isEmpty ? "/" : path
        if normalizesPath { canonicalPath = Self.normalize(canonicalPath) }
        if encodesPathTwice { canonicalPath = Self.encodePath(canonicalPath) }

        let canonicalQuery = query.map { (Self.encode($0.0), Self.encode($0.1)) }
            .sorted { $0.0 != $1.0 ? Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) : Array($0.1.utf8).lexicographicallyPrecedes(Array($1.1.utf8)) }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")

        let canonicalRequest = [method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))].joined(separator: "\n")

        let kDate = Self.hmac(key: Array("AWS4\(credentials.secretAccessKey)".utf8), day)
        let kRegion = Self.hmac(key: kDate, region)
        let kService = Self.hmac(key: kRegion, service)
        let kSigning = Self.hmac(key: kService, "aws4_request")
        let signature = Self.hex(Self.hmac(key: kSigning, stringToSign))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"

        var out: [(String, String)] = [("Authorization", authorization), ("X-Amz-Date", amzDate)]
        if signPayloadHeader { out.append(("X-Amz-Content-SHA256", payloadHash)) }
        if let token = credentials.sessionToken { out.append(("X-Amz-Security-Token", token)) }
        return Signed(canonicalRequest: canonicalRequest, stringToSign: stringToSign, authorization: authorization, headers: out)
    }

    // MARK: pieces

    static func hmac(key: [UInt8], _ message: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key)))
    }

    public static func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { String(hex: bytes) }

    /// yyyyMMdd'T'HHmmss'Z'
    static func amzDate(_ seconds: Int64) -> String {
        let iso = Timestamp.rfc3339(micros: seconds * 1_000_000)  // 2015-08-30T12:36:00Z
        return iso.filter { $0 != "-" && $0 != ":" }
    }

    static func trimmed(_ value: String) -> String {
        var out = ""
        var lastWasSpace = false
        for c in value.trimmingSpaces() {
            if c == " " {
                if !lastWasSpace { out.append(c) }
                lastWasSpace = true
            } else {
                out.append(c)
                lastWasSpace = false
            }
        }
        return out
    }

    /// RFC 3986 encoding of everything but unreserved characters (`/` too).
    public static func encode(_ s: String) -> String { percentEncode(s, keepSlash: false) }

    /// Encodes each path segment, keeping the `/` separators.
    public static func encodePath(_ s: String) -> String { percentEncode(s, keepSlash: true) }

    static func percentEncode(_ s: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: "/") where keepSlash:
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Removes empty and `.` segments and resolves `..` (RFC 3986 §5.2.4), keeping a trailing slash.
    static func normalize(_ path: String) -> String {
        var segments: [Substring] = []
        for seg in path.split(separator: "/", omittingEmptySubsequences: true) {
            if seg == "." { continue }
            if seg == ".." { _ = segments.popLast(); continue }
            segments.append(seg)
        }
        var out = "/" + segments.joined(separator: "/")
        if path.hasSuffix("/"), !segments.isEmpty { out += "/" }
        return out
    }
}

extension String {
    func trimmingSpaces() -> Substring {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
