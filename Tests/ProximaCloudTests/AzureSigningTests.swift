import Foundation
import Testing
import ProximaTesting
@testable import ProximaCloud
@testable import ProximaCore

/// Shared Key signatures for the requests `AzureBlobStorage` sends, compared
/// with those Microsoft's azure-storage-blob SDK computes for the same requests.
@Suite struct AzureSigningTests {
    let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

    func storage(endpoint: String?, account: String = "proximadbtest") throws -> AzureBlobStorage {
        let auth = AzureAuthorization.sharedKey(try AzureSharedKey(account: account, base64Key: key))
        return AzureBlobStorage(account: AzureAccount(name: account, blobEndpoint: endpoint, authorization: auth), container: "data", prefix: "tenant one/")
    }

    @Test(arguments: [nil, "http://127.0.0.1:10000/devstoreaccount1"])
    func signaturesMatchTheSDK(endpoint: String?) async throws {
        let account = endpoint == nil ? "proximadbtest" : "devstoreaccount1"
        let s = try storage(endpoint: endpoint, account: account)
        let now: Int64 = 1_764_093_845
        let requests: [CloudRequest] = [
            try await s.request(.GET, key: "wal/00000000000000000001", now: now),
            try await s.request(.GET, key: "segments/ü 名前+x", headers: [("x-ms-range", "bytes=10-99")], now: now),
            try await s.request(.HEAD, key: "catalog/c.json", now: now),
            try await s.request(
                .PUT, key: "wal/2", headers: [("x-ms-meta-proximadb_write", "abc"), ("If-None-Match", "*"), ("x-ms-blob-type", "BlockBlob"), ("Content-Type", "application/octet-stream")],
                body: Array("hello".utf8), now: now),
            try await s.request(.PUT, key: "catalog/c.json", headers: [("If-Match", "\"0x8DC1234\"")], body: [1, 2, 3], now: now),
            try await s.request(.PUT, key: "big", query: [("comp", "block"), ("blockid", "YWJjZA==")], body: [9], now: now),
            try await s.request(.PUT, key: "big", query: [("comp", "blocklist")], body: Array("<BlockList/>".utf8), now: now),
            try await s.request(.DELETE, key: "old", now: now),
            try await s.request(
                .GET, key: nil, query: [("restype", "container"), ("comp", "list"), ("prefix", "tenant one/wal/"), ("maxresults", "1000"), ("marker", "2!88!MDAw")],
                now: now),
        ]
        var items: [JSONValue] = []
        for r in requests {
            var headers = r.headers.filter { $0.0 != "Authorization" }
            if r.method == .PUT { headers.append(("Content-Length", String(r.body.count))) }
            items.append([
                "account": .string(account), "key": .string(key), "method": .string(r.method.rawValue), "url": .string(r.url),
                "headers": .array(headers.map { .array([.string($0.0), .string($0.1)]) }),
            ])
        }
        let output = try runPythonFixture("azure_sign.py", input: Data(JSONWriter.encode(.array(items))))
        let expected = (try JSONParser.parse(Array(output))).array?.compactMap(\.string) ?? []
        let ours = requests.map { r in r.headers.first { $0.0 == "Authorization" }?.1 ?? "" }
        #expect(expected.count == requests.count)
        for (i, (mine, sdk)) in zip(ours, expected).enumerated() {
            #expect(mine == sdk, "request \(i): \(requests[i].method) \(requests[i].url)")
        }
    }

    @Test func connectionStrings() throws {
        let dev = try AzureAccount.fromConnectionString("UseDevelopmentStorage=true")
        #expect(dev.name == "devstoreaccount1" && dev.blobEndpoint == "http://127.0.0.1:10000/devstoreaccount1")
        let real = try AzureAccount.fromConnectionString(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=\(key);EndpointSuffix=core.windows.net")
        #expect(real.blobEndpoint == "https://acct.blob.core.windows.net")
        let sas = try AzureAccount.fromConnectionString("BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sig=abc%2B")
        guard case .sas(let token) = sas.authorization else { Issue.record("expected SAS"); return }
        #expect(token == "sv=2022-11-02&sig=abc%2B" && sas.name == "acct")
        #expect(throws: StorageError.self) { try AzureAccount.fromConnectionString("AccountName=x") }
    }

    @Test func sasTokensGoInTheQuery() async throws {
        let s = AzureBlobStorage(
            account: AzureAccount(name: "acct", authorization: .sas("?sv=2022-11-02&sp=racwdl&sig=a%2Bb%3D")), container: "data")
        let r = try await s.request(.GET, key: "x", now: 0)
        #expect(r.url == "https://acct.blob.core.windows.net/data/x?sv=2022-11-02&sp=racwdl&sig=a%2Bb%3D")
        #expect(!r.headers.contains { $0.0 == "Authorization" })
    }

    @Test func rfc1123Dates() {
        #expect(Timestamp.rfc1123(seconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(Timestamp.rfc1123(seconds: 1_764_093_845) == "Tue, 25 Nov 2025 18:04:05 GMT")
    }
}
