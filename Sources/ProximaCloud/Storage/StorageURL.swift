import Foundation

/// Opens the store a URL names:
/// - `file:///path` or a bare path: a local directory (the embedded default);
/// - `s3://bucket/prefix`: S3 or an S3-compatible server, configured the way
///   AWS tools are (`AWS_REGION`, `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`,
///   the credential chain), or by query options
///   `?region=…&endpoint=…&path_style=true|false`;
/// - `gs://bucket/prefix`: Google Cloud Storage with a service account key
///   (`GOOGLE_APPLICATION_CREDENTIALS`) or the metadata server, or the
///   emulator at `STORAGE_EMULATOR_HOST` (`?endpoint=` too), unauthenticated;
/// - `az://account/container/prefix`: Azure Blob Storage with
///   `AZURE_STORAGE_CONNECTION_STRING`, or `AZURE_STORAGE_KEY` /
///   `AZURE_STORAGE_SAS_TOKEN` (`AZURE_STORAGE_BLOB_ENDPOINT` or `?endpoint=`
///   for Azurite).
public enum StorageURL {
    public static func open(
        _ url: String, environment: [String: String] = ProcessInfo.processInfo.environment, transport: HTTPTransport? = nil
    ) throws -> any CloudStorage {
        if url.hasPrefix("file://") { return try LocalDirectoryStorage(root: String(url.dropFirst("file://".count))) }
        if !url.contains("://") { return try LocalDirectoryStorage(root: url) }
        let (scheme, location, options) = try split(url)
        switch scheme {
        case "s3":
            let parts = location.split(separator: "/", maxSplits: 1)
            guard let bucket = parts.first.map(String.init), !bucket.isEmpty else { throw StorageError(.fatal, "s3:// URL needs a bucket") }
            let region = options["region"] ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? profileRegion(environment) ?? "us-east-1"
            let endpoint = options["endpoint"] ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"]
            var pathStyle: Bool?
            if let p = options["path_style"] { pathStyle = p == "true" || p == "1" }
            if let style = environment["AWS_S3_ADDRESSING_STYLE"] { pathStyle = style == "path" }
            let transport = transport ?? HTTPTransport()
            return try S3Storage(
                .init(bucket: bucket, prefix: parts.count > 1 ? String(parts[1]) : "", region: region, endpoint: endpoint, pathStyle: pathStyle),
                credentials: AWSCredentialChain(environment: environment, region: region, transport: transport), transport: transport)
        case "gs", "gcs":
            let parts = location.split(separator: "/", maxSplits: 1)
            guard let bucket = parts.first.map(String.init), !bucket.isEmpty else { throw StorageError(.fatal, "gs:// URL needs a bucket") }
            let prefix = parts.count > 1 ? String(parts[1]) : ""
            let transport = transport ?? HTTPTransport()
            if var emulator = options["endpoint"] ?? environment["STORAGE_EMULATOR_HOST"] {
                if !emulator.contains("://") { emulator = "http://" + emulator }
                return GCSStorage(.init(bucket: bucket, prefix: prefix, endpoint: emulator), tokens: nil, transport: transport)
            }
            let account = try environment["GOOGLE_APPLICATION_CREDENTIALS"].map { try GCSTokenSource.serviceAccount(fromFile: $0) }
            return GCSStorage(
                .init(bucket: bucket, prefix: prefix), tokens: GCSTokenSource(account: account, transport: transport), transport: transport)
        case "az", "azure":
            let parts = location.split(separator: "/", maxSplits: 2).map(String.init)
            guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw StorageError(.fatal, "az:// URLs are az://account/container/prefix")
            }
            var account = try AzureAccount.fromEnvironment(account: parts[0], environment)
            if let endpoint = options["endpoint"] { account.blobEndpoint = endpoint }
            guard account.name == parts[0] else {
                throw StorageError(.auth, "the Azure credentials are for account '\(account.name)', not '\(parts[0])'")
            }
            return AzureBlobStorage(account: account, container: parts[1], prefix: parts.count > 2 ? parts[2] : "", transport: transport ?? HTTPTransport())
        default:
            throw StorageError(.fatal, "unsupported storage URL scheme '\(scheme)' (supported: file, s3, gs, az)")
        }
    }

    static func split(_ url: String) throws -> (scheme: String, location: String, options: [String: String]) {
        guard let sep = url.firstRange(of: "://") else { throw StorageError(.fatal, "not a storage URL: \(url)") }
        let scheme = url[..<sep.lowerBound].lowercased()
        var rest = String(url[sep.upperBound...])
        var options: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                options[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            rest = String(rest[..<q])
        }
        return (scheme, rest, options)
    }

    static func profileRegion(_ environment: [String: String]) -> String? {
        let profile = environment["AWS_PROFILE"] ?? "default"
        let file = environment["AWS_CONFIG_FILE"] ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.aws/config"
        return INIFile.load(file)[profile == "default" ? "default" : "profile \(profile)"]?["region"]
    }
}
