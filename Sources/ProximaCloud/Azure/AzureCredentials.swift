import Foundation

/// How requests to Azure Blob Storage are authorized.
public enum AzureAuthorization: Sendable {
    case sharedKey(AzureSharedKey)
    /// A SAS token (the query string, with or without a leading `?`).
    case sas(String)
    /// OAuth bearer tokens (managed identity, service principal): the caller's hook.
    case bearer(any AzureTokenProvider)
}

public protocol AzureTokenProvider: Sendable {
    func accessToken() async throws -> String
}

/// The account, endpoint and authorization from the environment, the way
/// Azure's own tools read it: `AZURE_STORAGE_CONNECTION_STRING`, or
/// `AZURE_STORAGE_ACCOUNT` with `AZURE_STORAGE_KEY` or `AZURE_STORAGE_SAS_TOKEN`
/// (and `AZURE_STORAGE_BLOB_ENDPOINT` for emulators).
public struct AzureAccount: Sendable {
    public var name: String
    /// e.g. `https://myaccount.blob.core.windows.net` or `http://127.0.0.1:10000/devstoreaccount1`.
    public var blobEndpoint: String
    public var authorization: AzureAuthorization

    /// Azurite's published development account.
    public static let developmentAccount = "devstoreaccount1"
    public static let developmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

    public init(name: String, blobEndpoint: String? = nil, authorization: AzureAuthorization) {
        self.name = name
        var e = blobEndpoint ?? "https://\(name).blob.core.windows.net"
        while e.hasSuffix("/") { e.removeLast() }
        self.blobEndpoint = e
        self.authorization = authorization
    }

    public static func fromEnvironment(account requested: String?, _ env: [String: String]) throws -> AzureAccount {
        if let connection = env["AZURE_STORAGE_CONNECTION_STRING"] { return try fromConnectionString(connection) }
        guard let name = requested ?? env["AZURE_STORAGE_ACCOUNT"] else {
            throw StorageError(.auth, "no Azure account: set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT")
        }
        let endpoint = env["AZURE_STORAGE_BLOB_ENDPOINT"]
        if let key = env["AZURE_STORAGE_KEY"] {
            return AzureAccount(name: name, blobEndpoint: endpoint, authorization: .sharedKey(try AzureSharedKey(account: name, base64Key: key)))
        }
        if let sas = env["AZURE_STORAGE_SAS_TOKEN"] { return AzureAccount(name: name, blobEndpoint: endpoint, authorization: .sas(sas)) }
        throw StorageError(.auth, "no Azure credentials: set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN (or a connection string)")
    }

    /// `DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…;EndpointSuffix=…`,
    /// `BlobEndpoint=…;SharedAccessSignature=…`, or `UseDevelopmentStorage=true`.
    public static func fromConnectionString(_ text: String) throws -> AzureAccount {
        var fields: [String: String] = [:]
        for part in text.split(separator: ";") where !part.isEmpty {
            guard let eq = part.firstIndex(of: "=") else { continue }
            fields[part[..<eq].trimmingCharacters(in: .whitespaces).lowercased()] = String(part[part.index(after: eq)...])
        }
        if fields["usedevelopmentstorage"]?.lowercased() == "true" {
            return AzureAccount(
                name: developmentAccount, blobEndpoint: "http://127.0.0.1:10000/\(developmentAccount)",
                authorization: .sharedKey(try AzureSharedKey(account: developmentAccount, base64Key: developmentKey)))
        }
        let endpoint = fields["blobendpoint"] ?? fields["accountname"].map { name in
            "\(fields["defaultendpointsprotocol"] ?? "https")://\(name).blob.\(fields["endpointsuffix"] ?? "core.windows.net")"
        }
        let name = fields["accountname"] ?? endpoint.flatMap { URL(string: $0)?.host?.split(separator: ".").first.map(String.init) }
        guard let name, let endpoint else { throw StorageError(.auth, "the Azure connection string names no account or blob endpoint") }
        if let key = fields["accountkey"] {
            return AzureAccount(name: name, blobEndpoint: endpoint, authorization: .sharedKey(try AzureSharedKey(account: name, base64Key: key)))
        }
        if let sas = fields["sharedaccesssignature"] { return AzureAccount(name: name, blobEndpoint: endpoint, authorization: .sas(sas)) }
        throw StorageError(.auth, "the Azure connection string has neither AccountKey nor SharedAccessSignature")
    }
}
