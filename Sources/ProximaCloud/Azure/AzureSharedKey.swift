import Crypto
import ProximaCore

/// Azure Storage's Shared Key authorization ("Authorize with Shared Key",
/// version 2015-02-21 and later), written here.
public struct AzureSharedKey: Sendable {
    public let account: String
    let key: [UInt8]

    /// `base64Key` is the account key as the portal shows it.
    public init(account: String, base64Key: String) throws {
        guard let key = Base64.decode(base64Key), !key.isEmpty else {
            throw StorageError(.auth, "the Azure account key is not base64")
        }
        self.account = account
        self.key = key
    }

    /// The headers whose values form the fixed part of the string to sign, in order.
    static let standardHeaders = [
        "content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
        "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range",
    ]

    /// The string to sign for a request. `path` is the URL path as sent
    /// (percent-encoded), `query` the decoded query items.
    public func stringToSign(method: String, path: String, query: [(String, String)], headers: [(String, String)]) -> String {
        var lower: [String: String] = [:]
        for (name, value) in headers { lower[name.lowercased()] = value }
        if lower["content-length"] == "0" { lower["content-length"] = nil }
        var out = method + "\n"
        for name in Self.standardHeaders { out += (lower[name] ?? "") + "\n" }
        // x-ms-* headers, lower-cased and sorted. (The service collates them with
        // its own table, which for the names sent here equals byte order.)
        let msHeaders = lower.filter { $0.key.hasPrefix("x-ms-") }.sorted { $0.key < $1.key }
        for (name, value) in msHeaders { out += "\(name):\(value.trimmingSpaces())\n" }
        out += "/\(account)\(path)"
        var grouped: [String: [String]] = [:]
        for (name, value) in query { grouped[name.lowercased(), default: []].append(value) }
        for name in grouped.keys.sorted() { out += "\n\(name):\(grouped[name]!.sorted().joined(separator: ","))" }
        return out
    }

    public func authorization(method: String, path: String, query: [(String, String)], headers: [(String, String)]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array(stringToSign(method: method, path: path, query: query, headers: headers).utf8), using: SymmetricKey(data: key))
        return "SharedKey \(account):\(Base64.encode(Array(mac)))"
    }
}
