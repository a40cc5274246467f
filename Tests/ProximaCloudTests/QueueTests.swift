import Foundation
import ProximaTesting
import Testing
@testable import ProximaCloud

@Suite struct QueueTests {
    /// On a manual clock, visibility and delays expire exactly when the test moves time.
    @Test func localDirectoryQueueConforms() async throws {
        let dir = NSTemporaryDirectory() + "proximadb-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        try await QueueConformance.run(try LocalDirectoryQueue(path: dir, clock: clock)) { clock.advance(seconds: Double($0)) }
    }

    @Test func memoryQueueConforms() async throws {
        let clock = ManualClock()
        try await QueueConformance.run(MemoryQueue(clock: clock)) { clock.advance(seconds: Double($0)) }
    }

    @Test func memoryQueueFailsOnCue() async throws {
        let q = MemoryQueue(clock: ManualClock())
        q.faults.fail(.send)
        await #expect(throws: StorageError.self) { try await q.send("lost") }
        try await q.send("kept")
        #expect(try await q.receive(max: 10, visibilityTimeoutSeconds: 30, waitSeconds: 0).map(\.body) == ["kept"])
        #expect(q.faults.calls(.send) == 2)
    }

    @Test func memoryStorageConforms() async throws {
        try await StorageConformance.run(MemoryStorage(), prefix: "conformance/")
    }

    func motoEnvironment(secret: String? = nil) throws -> [String: String] {
        let moto = try Emulators.moto.get()
        return [
            "AWS_ENDPOINT_URL": moto["endpoint"], "AWS_ACCESS_KEY_ID": moto["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": secret ?? moto["secret_access_key"], "AWS_REGION": "us-east-1", "HOME": "/nonexistent",
        ]
    }

    /// SQS over its JSON protocol against moto, which verifies the signatures.
    @Test func sqsQueueConformsOnMoto() async throws {
        let q = try await SQSQueue.named("conformance-\(UUID().uuidString.prefix(8))", create: true, environment: try motoEnvironment())
        try await QueueConformance.run(q, exactlyOnce: false)
    }

    @Test func sqsRejectsAWrongSecret() async throws {
        do {
            _ = try await SQSQueue.named("denied", create: true, environment: try motoEnvironment(secret: "not-the-secret"))
            Issue.record("a request signed with the wrong secret was accepted")
        } catch let e as StorageError {
            #expect(e.kind == .auth, "\(e)")
        }
    }

    @Test func queueURLs() async throws {
        let dir = NSTemporaryDirectory() + "proximadb-queue-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (q, dead) = try await QueueURL.open("dir://" + dir)
        #expect(q.description == "dir://" + dir && dead.description == "dir://" + dir + "-dead")
        await #expect(throws: StorageError.self) { try await QueueURL.open("kafka://x") }
        let (sqs, sqsDead) = try await QueueURL.open("sqs://jobs-\(UUID().uuidString.prefix(8))", environment: try motoEnvironment())
        #expect(sqs.description.contains("jobs-") && sqsDead.description.hasSuffix("-dead"))
    }
}
