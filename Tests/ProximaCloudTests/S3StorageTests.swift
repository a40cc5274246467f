import Testing
import ProximaTesting
@testable import ProximaCloud

/// S3 against moto's server with signature verification on: a wrong
/// signature fails the suite.
@Suite(.serialized) struct S3StorageTests {
    func storage(prefix: String = "conformance/", credentials: AWSCredentials? = nil) throws -> S3Storage {
        let moto = try Emulators.moto.get()
        let creds = credentials ?? AWSCredentials(accessKeyId: moto["access_key_id"], secretAccessKey: moto["secret_access_key"])
        return try S3Storage(
            .init(bucket: moto["bucket"], prefix: prefix, region: "us-east-1", endpoint: moto["endpoint"]),
            credentials: StaticCredentialProvider(creds))
    }

    @Test func conformanceOnMoto() async throws {
        try await StorageConformance.run(try storage(), prefix: "t/")
    }

    @Test func conformanceOnLocalStack() async throws {
        let localstack = try Emulators.localstack.get()
        let env = [
            "AWS_ENDPOINT_URL": localstack["endpoint"], "AWS_ACCESS_KEY_ID": localstack["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": localstack["secret_access_key"], "AWS_REGION": "us-east-1", "HOME": "/nonexistent",
        ]
        try await StorageConformance.run(try StorageURL.open("s3://proximadb/conformance", environment: env), prefix: "t/")
    }

    /// Through a proxy injecting 5xx bursts, throttling, answers lost after the
    /// store acted, bodies cut off mid-way and delays: every operation succeeds
    /// or fails clearly, and conditional writes never misreport their own retry.
    @Test func conformanceThroughFaults() async throws {
        let moto = try Emulators.moto.get()
        let proxy = try Emulators.faultyMoto.get()
        let s = try S3Storage(
            .init(bucket: moto["bucket"], prefix: "faulty/", endpoint: proxy["endpoint"]),
            credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: moto["access_key_id"], secretAccessKey: moto["secret_access_key"])))
        for round in 0..<3 { try await StorageConformance.run(s, prefix: "r\(round)/") }
    }

    @Test func wrongSecretIsRejected() async throws {
        let moto = try Emulators.moto.get()
        let s = try storage(credentials: AWSCredentials(accessKeyId: moto["access_key_id"], secretAccessKey: "not-the-secret"))
        do {
            try await s.put("x", [1])
            Issue.record("a request signed with the wrong secret was accepted")
        } catch let e as StorageError {
            #expect(e.kind == .auth)
            #expect(!e.description.contains("not-the-secret"))
        }
    }

    @Test func multipartUpload() async throws {
        var config = try storage().configuration
        config.multipartThreshold = 5 << 20
        config.partSize = 5 << 20
        let moto = try Emulators.moto.get()
        let s = try S3Storage(
            config, credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: moto["access_key_id"], secretAccessKey: moto["secret_access_key"])))
        let bytes = (0..<(12 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await s.put("multi/big", bytes, condition: .none)
        #expect(try await s.get("multi/big").bytes == bytes)
        try await s.delete("multi/big")
    }
}
