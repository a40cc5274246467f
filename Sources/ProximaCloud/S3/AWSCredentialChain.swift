import Foundation
import NIOHTTP1
import ProximaCore

/// The standard AWS credential chain, in the SDKs' order: environment, web
/// identity (STS), shared profile files (static keys or an assumed role),
/// container credentials (ECS), then instance metadata (IMDSv2). The first
/// source that yields credentials is used; temporary credentials are cached
/// and refreshed five minutes before they expire.
public actor AWSCredentialChain: AWSCredentialProvider {
    let environment: [String: String]
    let transport: HTTPTransport
    /// Off EC2 nothing answers at the metadata address: quick timeouts, one retry.
    let metadataTransport: HTTPTransport
    let region: String
    private var cached: AWSCredentials?
    private var source: String?

    /// Seconds before expiry at which credentials are fetched again.
    static let refreshMargin: Int64 = 300

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, region: String, transport: HTTPTransport) {
        self.environment = environment
        self.region = region
        self.transport = transport
        var quick = RetryPolicy()
        quick.maxAttempts = 2
        self.metadataTransport = HTTPTransport(retry: quick, connectTimeout: .seconds(1), requestTimeout: .seconds(2))
    }

    public func credentials() async throws -> AWSCredentials {
        let now = Timestamp.nowMicros() / 1_000_000
        if let c = cached, c.expiration.map({ $0 - Self.refreshMargin > now }) ?? true { return c }
        let (fresh, from) = try await resolve()
        cached = fresh
        source = from
        return fresh
    }

    /// Which source answered last ("environment", "profile default", …), for logs.
    public var lastSource: String? { source }

    func resolve() async throws -> (AWSCredentials, String) {
        if let c = fromEnvironment() { return (c, "environment") }
        if let token = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], let role = environment["AWS_ROLE_ARN"] {
            return (try await assumeRoleWithWebIdentity(tokenFile: token, roleArn: role), "web identity")
        }
        let profileName = environment["AWS_PROFILE"] ?? environment["AWS_DEFAULT_PROFILE"] ?? "default"
        if let c = try await fromProfile(profileName, depth: 0) { return (c, "profile \(profileName)") }
        if let c = try await fromContainer() { return (c, "container") }
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true", let c = try await fromInstanceMetadata() {
            return (c, "instance metadata")
        }
        throw StorageError(
            .auth,
            "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a web identity token, or run where container or instance credentials exist")
    }

    // MARK: sources

    func fromEnvironment() -> AWSCredentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty, let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            return nil
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }

    var home: String { environment["HOME"] ?? NSHomeDirectory() }

    func fromProfile(_ name: String, depth: Int) async throws -> AWSCredentials? {
        guard depth < 4 else { throw StorageError(.auth, "profile \(name): source_profile chain too deep") }
        let credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let configFile = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        let credentials = INIFile.load(credentialsFile)[name] ?? [:]
        let config = INIFile.load(configFile)[name == "default" ? "default" : "profile \(name)"] ?? [:]
        let merged = config.merging(credentials) { _, fromCredentials in fromCredentials }
        if let roleArn = merged["role_arn"] {
            let sourceName = merged["source_profile"] ?? "default"
            guard let source = try await fromProfile(sourceName, depth: depth + 1) else {
                throw StorageError(.auth, "profile \(name): source_profile \(sourceName) has no credentials")
            }
            return try await assumeRole(roleArn: roleArn, sessionName: merged["role_session_name"] ?? "proximadb", with: source)
        }
        guard let id = merged["aws_access_key_id"], let secret = merged["aws_secret_access_key"] else { return nil }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: merged["aws_session_token"])
    }

    func fromContainer() async throws -> AWSCredentials? {
        let url: String
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            url = "http://169.254.170.2" + relative
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] {
            url = full
        } else {
            return nil
        }
        var headers: [(String, String)] = []
        if let tokenFile = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"],
            let token = try? String(contentsOfFile: tokenFile, encoding: .utf8)
        {
            headers.append(("Authorization", token.trimmingCharacters(in: .whitespacesAndNewlines)))
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] {
            headers.append(("Authorization", token))
        }
        let (response, _) = try await transport.send { [headers] _ in CloudRequest(method: .GET, url: url, headers: headers) }
        guard response.status == 200 else { throw StorageError(.auth, "container credentials endpoint answered HTTP \(response.status)") }
        return try Self.parseJSONCredentials(response.body, what: "container credentials")
    }

    func fromInstanceMetadata() async throws -> AWSCredentials? {
        var endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? "http://169.254.169.254"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        let base = endpoint
        let quick = metadataTransport
        let token: CloudResponse
        do {
            token = try await quick.send { _ in
                CloudRequest(method: .PUT, url: base + "/latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", "21600")])
            }.response
        } catch {
            return nil
        }
        guard token.status == 200 else { return nil }
        let tokenHeader = [("X-aws-ec2-metadata-token", token.text)]
        let roles = try await quick.send { _ in
            CloudRequest(method: .GET, url: base + "/latest/meta-data/iam/security-credentials/", headers: tokenHeader)
        }.response
        guard roles.status == 200, let role = roles.text.split(separator: "\n").first.map(String.init), !role.isEmpty else { return nil }
        let creds = try await quick.send { _ in
            CloudRequest(method: .GET, url: base + "/latest/meta-data/iam/security-credentials/" + role, headers: tokenHeader)
        }.response
        guard creds.status == 200 else { throw StorageError(.auth, "instance metadata answered HTTP \(creds.status) for role \(role)") }
        return try Self.parseJSONCredentials(creds.body, what: "instance metadata")
    }

    // MARK: STS

    var stsEndpoint: String {
        environment["AWS_ENDPOINT_URL_STS"] ?? environment["AWS_ENDPOINT_URL"] ?? "https://sts.\(region).amazonaws.com"
    }

    func assumeRoleWithWebIdentity(tokenFile: String, roleArn: String) async throws -> AWSCredentials {
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
            throw StorageError(.auth, "cannot read AWS_WEB_IDENTITY_TOKEN_FILE")
        }
        let form = Self.form([
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", roleArn),
            ("RoleSessionName", environment["AWS_ROLE_SESSION_NAME"] ?? "proximadb"),
            ("WebIdentityToken", token.trimmingCharacters(in: .whitespacesAndNewlines)),
        ])
        let endpoint = stsEndpoint
        let (response, _) = try await transport.send { _ in
            CloudRequest(method: .POST, url: endpoint + "/", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: form)
        }
        return try Self.parseSTSCredentials(response, action: "AssumeRoleWithWebIdentity")
    }

    func assumeRole(roleArn: String, sessionName: String, with source: AWSCredentials) async throws -> AWSCredentials {
        let form = Self.form([("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", roleArn), ("RoleSessionName", sessionName)])
        let endpoint = stsEndpoint
        let signer = SigV4Signer(region: region, service: "sts")
        let host = endpoint.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
        let (response, _) = try await transport.send { _ in
            let headers = [("Host", host), ("Content-Type", "application/x-www-form-urlencoded")]
            let signed = signer.sign(
                method: "POST", path: "/", query: [], headers: headers, payloadHash: SigV4Signer.sha256Hex(form), credentials: source,
                date: Timestamp.nowMicros() / 1_000_000, signPayloadHeader: false)
            return CloudRequest(method: .POST, url: endpoint + "/", headers: headers + signed.headers, body: form)
        }
        return try Self.parseSTSCredentials(response, action: "AssumeRole")
    }

    static func form(_ items: [(String, String)]) -> [UInt8] {
        Array(items.map { "\(SigV4Signer.encode($0.0))=\(SigV4Signer.encode($0.1))" }.joined(separator: "&").utf8)
    }

    static func parseSTSCredentials(_ response: CloudResponse, action: String) throws -> AWSCredentials {
        let xml = XMLScanner(response.body)
        guard response.status == 200, let block = xml.blocks("Credentials").first else {
            throw StorageError(.auth, "STS \(action) failed: \(xml.value("Code") ?? "HTTP \(response.status)")")
        }
        let c = XMLScanner(block)
        guard let id = c.value("AccessKeyId"), let secret = c.value("SecretAccessKey") else {
            throw StorageError(.auth, "STS \(action) answered without credentials")
        }
        return AWSCredentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: c.value("SessionToken"),
            expiration: c.value("Expiration").flatMap(Timestamp.parseRFC3339).map { $0 / 1_000_000 })
    }

    static func parseJSONCredentials(_ body: [UInt8], what: String) throws -> AWSCredentials {
        guard let json = try? JSONParser.parse(body), let id = json["AccessKeyId"]?.string, let secret = json["SecretAccessKey"]?.string else {
            throw StorageError(.auth, "\(what) answered without credentials")
        }
        return AWSCredentials(
            accessKeyId: id, secretAccessKey: secret, sessionToken: json["Token"]?.string,
            expiration: json["Expiration"]?.string.flatMap(Timestamp.parseRFC3339).map { $0 / 1_000_000 })
    }
}

/// The shared config/credentials file format: `[section]` then `key = value`.
enum INIFile {
    static func load(_ path: String) -> [String: [String: String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        return parse(text)
    }

    static func parse(_ text: String) -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        var section: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                section = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let section, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            out[section, default: [:]][key] = value
        }
        return out
    }
}
