import Foundation
import Testing
import ProximaTesting
@testable import ProximaCloud

/// Every source of the chain, each checked end to end: the credentials it
/// yields must sign requests that moto (verifying signatures) accepts.
@Suite(.serialized) struct AWSCredentialChainTests {
    func roundTrip(_ environment: [String: String], expectSource: String) async throws {
        let moto = try Emulators.moto.get()
        var env = environment
        env["AWS_ENDPOINT_URL"] = moto["endpoint"]
        env["AWS_EC2_METADATA_DISABLED"] = env["AWS_EC2_METADATA_DISABLED"] ?? "true"
        env["HOME"] = env["HOME"] ?? "/nonexistent"
        let storage = try StorageURL.open("s3://\(moto["bucket"])/chain-\(expectSource.replacingOccurrences(of: " ", with: "-"))", environment: env)
        try await storage.put("probe", Array("ok".utf8))
        #expect(try await storage.get("probe").bytes == Array("ok".utf8))
        let chain = (storage as! S3Storage).credentials as! AWSCredentialChain
        #expect(await chain.lastSource == expectSource)
    }

    @Test func environmentVariables() async throws {
        let moto = try Emulators.moto.get()
        try await roundTrip(["AWS_ACCESS_KEY_ID": moto["access_key_id"], "AWS_SECRET_ACCESS_KEY": moto["secret_access_key"]], expectSource: "environment")
    }

    @Test func sharedProfileFiles() async throws {
        let moto = try Emulators.moto.get()
        let dir = NSTemporaryDirectory() + "aws-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n[work]\naws_access_key_id = \(moto["access_key_id"])\naws_secret_access_key = \(moto["secret_access_key"])\n"
            .write(toFile: dir + "/credentials", atomically: true, encoding: .utf8)
        try "[profile work]\nregion = us-east-1\n\n[profile assumer]\nrole_arn = \(moto["role_arn"])\nsource_profile = work\n"
            .write(toFile: dir + "/config", atomically: true, encoding: .utf8)
        let files = ["AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials", "AWS_CONFIG_FILE": dir + "/config"]
        try await roundTrip(files.merging(["AWS_PROFILE": "work"]) { a, _ in a }, expectSource: "profile work")
        // A profile that assumes a role through STS with another profile's keys (signed AssumeRole).
        try await roundTrip(files.merging(["AWS_PROFILE": "assumer"]) { a, _ in a }, expectSource: "profile assumer")
    }

    @Test func webIdentityThroughSTS() async throws {
        let moto = try Emulators.moto.get()
        let tokenFile = NSTemporaryDirectory() + "token-" + UUID().uuidString
        try "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm94aW1hZGIifQ.c2ln".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        // Session credentials from STS: the session token is signed and verified too.
        try await roundTrip(["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": moto["role_arn"]], expectSource: "web identity")
    }

    @Test func containerAndInstanceMetadata() async throws {
        let moto = try Emulators.moto.get()
        let metadata = try EmulatorProcess("metadata_server.py", arguments: [moto["access_key_id"], moto["secret_access_key"], "container-secret"])
        defer { metadata.stop() }
        try await roundTrip(
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI": metadata["endpoint"] + "/container/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-secret"],
            expectSource: "container")
        try await roundTrip(
            ["AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata["endpoint"], "AWS_EC2_METADATA_DISABLED": "false"], expectSource: "instance metadata")
    }

    @Test func nothingConfiguredIsAClearAuthError() async throws {
        let chain = AWSCredentialChain(environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"], region: "us-east-1", transport: HTTPTransport())
        do {
            _ = try await chain.credentials()
            Issue.record("credentials appeared from nowhere")
        } catch let e as StorageError {
            #expect(e.kind == .auth)
        }
    }

    @Test func iniParsing() {
        let ini = INIFile.parse("# comment\n[default]\nAWS_Access_Key_Id = a \n; other\n[profile x]\nregion=eu-west-1\n")
        #expect(ini["default"]?["aws_access_key_id"] == "a")
        #expect(ini["profile x"]?["region"] == "eu-west-1")
    }
}
