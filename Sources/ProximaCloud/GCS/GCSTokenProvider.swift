import Crypto
import Foundation
import NIOHTTP1
import ProximaCore
import _CryptoExtras

/// OAuth2 access tokens for the GCS JSON API.
public protocol GCSTokenProvider: Sendable {
    func accessToken() async throws -> String
}

/// Tokens from a service account key (a signed RS256 JWT exchanged at the
/// key's `token_uri`) or, without a key, from the GCE/Cloud Run metadata
/// server. Cached until a minute before they expire.
public actor GCSTokenSource: GCSTokenProvider {
    public struct ServiceAccount: Sendable {
        public var clientEmail: String
        public var privateKeyPEM: String
        public var tokenURI: String
    }

    let account: ServiceAccount?
    let metadataHost: String
    let transport: HTTPTransport
    private var token: (value: String, expires: Int64)?

    public static let scope = "https://www.googleapis.com/auth/devstorage.read_write"

    public init(account: ServiceAccount?, metadataHost: String = "metadata.google.internal", transport: HTTPTransport) {
        self.account = account
        self.metadataHost = metadataHost
        self.transport = transport
    }

    /// Reads a service account key file (`GOOGLE_APPLICATION_CREDENTIALS`).
    public static func serviceAccount(fromFile path: String) throws -> ServiceAccount {
        guard let data = FileManager.default.contents(atPath: path), let json = try? JSONParser.parse(Array(data)),
            json["type"]?.string == "service_account", let email = json["client_email"]?.string, let key = json["private_key"]?.string
        else { throw StorageError(.auth, "\(path) is not a service account key file") }
        return ServiceAccount(clientEmail: email, privateKeyPEM: key, tokenURI: json["token_uri"]?.string ?? "https://oauth2.googleapis.com/token")
    }

    public func accessToken() async throws -> String {
        let now = Timestamp.nowMicros() / 1_000_000
        if let token, token.expires - 60 > now { return token.value }
        let fresh = if let account { try await exchange(account, now: now) } else { try await fromMetadataServer(now: now) }
        token = fresh
        return fresh.value
    }

    /// The RS256-signed assertion of RFC 7523 for `account`.
    public static func assertion(for account: ServiceAccount, now: Int64) throws -> String {
        let header = JSONWriter.encode(["alg": "RS256", "typ": "JWT"])
        let claims = JSONWriter.encode([
            "iss": .string(account.clientEmail), "scope": .string(scope), "aud": .string(account.tokenURI),
            "iat": .int(now), "exp": .int(now + 3600),
        ])
        let signingInput = Base64.encode(header, url: true) + "." + Base64.encode(claims, url: true)
        let key: _RSA.Signing.PrivateKey
        do { key = try _RSA.Signing.PrivateKey(pemRepresentation: account.privateKeyPEM) } catch {
            throw StorageError(.auth, "the service account's private key is not a PEM RSA key")
        }
        let signature = try key.signature(for: Array(signingInput.utf8), padding: .insecurePKCS1v1_5)
        return signingInput + "." + Base64.encode(Array(signature.rawRepresentation), url: true)
    }

    func exchange(_ account: ServiceAccount, now: Int64) async throws -> (value: String, expires: Int64) {
        let jwt = try Self.assertion(for: account, now: now)
        let form = Array("grant_type=\(SigV4Signer.encode("urn:ietf:params:oauth:grant-type:jwt-bearer"))&assertion=\(jwt)".utf8)
        let (response, _) = try await transport.send { _ in
            CloudRequest(method: .POST, url: account.tokenURI, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: form)
        }
        return try Self.parseToken(response, now: now, what: "token exchange")
    }

    func fromMetadataServer(now: Int64) async throws -> (value: String, expires: Int64) {
        let url = "http://\(metadataHost)/computeMetadata/v1/instance/service-accounts/default/token"
        let (response, _) = try await transport.send { _ in CloudRequest(method: .GET, url: url, headers: [("Metadata-Flavor", "Google")]) }
        return try Self.parseToken(response, now: now, what: "metadata server")
    }

    static func parseToken(_ response: CloudResponse, now: Int64, what: String) throws -> (value: String, expires: Int64) {
        guard response.status == 200, let json = try? JSONParser.parse(response.body), let token = json["access_token"]?.string else {
            throw StorageError(.auth, "GCS \(what) failed: HTTP \(response.status)")
        }
        return (token, now + (json["expires_in"]?.integer ?? 3600))
    }
}
