import Foundation
import Testing
import ProximaTesting
@testable import ProximaCloud

@Suite(.serialized) struct GCSStorageTests {
    @Test func conformanceOnFakeGCSServer() async throws {
        let gcs = try Emulators.fakeGCS.get()
        let storage = try StorageURL.open("gs://\(gcs["bucket"])/conformance", environment: ["STORAGE_EMULATOR_HOST": gcs["endpoint"]])
        try await StorageConformance.run(storage, prefix: "t/")
    }

    @Test func resumableUpload() async throws {
        let gcs = try Emulators.fakeGCS.get()
        var config = GCSStorage.Configuration(bucket: gcs["bucket"], prefix: "resumable", endpoint: gcs["endpoint"])
        config.resumableThreshold = 1 << 20
        config.chunkSize = 1 << 20
        let storage = GCSStorage(config, tokens: nil)
        let bytes = (0..<(3 << 20 + 12345)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try await storage.put("big", bytes, condition: .createOnly)
        #expect(try await storage.get("big").bytes == bytes)
        await #expect(throws: StorageError.self) { try await storage.put("big", [1], condition: .createOnly) }
    }

    @Test func tokensFromTheMetadataServer() async throws {
        let metadata = try EmulatorProcess("metadata_server.py", arguments: ["unused", "unused", "unused"])
        defer { metadata.stop() }
        let host = String(metadata["endpoint"].dropFirst("http://".count))
        let tokens = GCSTokenSource(account: nil, metadataHost: host, transport: HTTPTransport())
        #expect(try await tokens.accessToken() == "gce-token")
    }

    /// The JWT the service-account flow signs is verified (RS256 signature and
    /// claims) by an independent token endpoint using Python's `cryptography`.
    @Test func serviceAccountTokensAreVerified() async throws {
        let gcs = try Emulators.fakeGCS.get()
        let oauth = try EmulatorProcess("oauth_server.py")
        defer { oauth.stop() }
        let transport = HTTPTransport()
        let tokens = GCSTokenSource(account: try GCSTokenSource.serviceAccount(fromFile: oauth["key_file"]), transport: transport)
        #expect(try await tokens.accessToken() == "token-1")
        #expect(try await tokens.accessToken() == "token-1", "cached until it expires")
        let storage = GCSStorage(.init(bucket: gcs["bucket"], prefix: "authed", endpoint: gcs["endpoint"]), tokens: tokens, transport: transport)
        try await storage.put("x", [42])
        #expect(try await storage.get("x").bytes == [42])
        let (verified, _) = try await transport.send { _ in CloudRequest(method: .GET, url: oauth["verified_url"]) }
        #expect(verified.text.contains("\"count\": 1"))
        #expect(verified.text.contains("\"errors\": []"))
    }
}
