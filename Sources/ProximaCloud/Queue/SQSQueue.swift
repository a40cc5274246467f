import Foundation
import NIOHTTP1
import ProximaCore

/// `CloudQueue` on Amazon SQS (or moto / LocalStack), over its JSON protocol
/// (`X-Amz-Target: AmazonSQS.<Action>`), signed with SigV4 for service `sqs`.
public final class SQSQueue: CloudQueue {
    public let queueURL: String
    let endpoint: String
    let region: String
    let credentials: any AWSCredentialProvider
    let transport: HTTPTransport
    let signer: SigV4Signer

    public var description: String { queueURL }

    public init(queueURL: String, endpoint: String, region: String, credentials: any AWSCredentialProvider, transport: HTTPTransport) {
        self.queueURL = queueURL
        var e = endpoint
        while e.hasSuffix("/") { e.removeLast() }
        self.endpoint = e
        self.region = region
        self.credentials = credentials
        self.transport = transport
        self.signer = SigV4Signer(region: region, service: "sqs")
    }

    /// The queue named `name`, created if `create` and missing. The endpoint
    /// and region come from the environment as for the AWS CLI
    /// (`AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL`, `AWS_REGION`).
    public static func named(
        _ name: String, create: Bool, environment: [String: String] = ProcessInfo.processInfo.environment,
        transport: HTTPTransport = HTTPTransport()
    ) async throws -> SQSQueue {
        let region = region(environment)
        let endpoint = environment["AWS_ENDPOINT_URL_SQS"] ?? environment["AWS_ENDPOINT_URL"] ?? "https://sqs.\(region).amazonaws.com"
        let credentials = AWSCredentialChain(environment: environment, region: region, transport: transport)
        let probe = SQSQueue(queueURL: "", endpoint: endpoint, region: region, credentials: credentials, transport: transport)
        let url: String
        do {
            url = try await probe.call("GetQueueUrl", ["QueueName": .string(name)])["QueueUrl"]?.string ?? ""
        } catch let e as StorageError where e.kind == .notFound && create {
            url = try await probe.call("CreateQueue", ["QueueName": .string(name)])["QueueUrl"]?.string ?? ""
        }
        guard !url.isEmpty else { throw StorageError(.fatal, "SQS returned no URL for queue \(name)") }
        return SQSQueue(queueURL: url, endpoint: endpoint, region: region, credentials: credentials, transport: transport)
    }

    /// The queue at `url` (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, or an
    /// emulator's), without a request: the endpoint is the URL's origin.
    public static func at(
        url: String, environment: [String: String] = ProcessInfo.processInfo.environment, transport: HTTPTransport = HTTPTransport()
    ) throws -> SQSQueue {
        guard let parsed = URL(string: url), let host = parsed.host, parsed.path.split(separator: "/").count == 2 else {
            throw StorageError(.fatal, "an SQS queue URL looks like https://sqs.REGION.amazonaws.com/ACCOUNT/NAME")
        }
        let endpoint = "\(parsed.scheme ?? "https")://\(host)" + (parsed.port.map { ":\($0)" } ?? "")
        let region = region(environment)
        let credentials = AWSCredentialChain(environment: environment, region: region, transport: transport)
        return SQSQueue(queueURL: url, endpoint: endpoint, region: region, credentials: credentials, transport: transport)
    }

    static func region(_ environment: [String: String]) -> String {
        environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
    }

    public func send(_ body: String, delaySeconds: Int) async throws {
        var request: [String: JSONValue] = ["QueueUrl": .string(queueURL), "MessageBody": .string(body)]
        if delaySeconds > 0 { request["DelaySeconds"] = .int(Int64(min(delaySeconds, 900))) }
        _ = try await call("SendMessage", request)
    }

    public func receive(max: Int, visibilityTimeoutSeconds: Int, waitSeconds: Int) async throws -> [QueueMessage] {
        let answer = try await call(
            "ReceiveMessage",
            [
                "QueueUrl": .string(queueURL), "MaxNumberOfMessages": .int(Int64(Swift.max(1, Swift.min(max, 10)))),
                "VisibilityTimeout": .int(Int64(visibilityTimeoutSeconds)), "WaitTimeSeconds": .int(Int64(Swift.min(waitSeconds, 20))),
                "MessageSystemAttributeNames": ["ApproximateReceiveCount"], "AttributeNames": ["ApproximateReceiveCount"],
            ])
        return (answer["Messages"]?.array ?? []).compactMap { m in
            guard let id = m["MessageId"]?.string, let receipt = m["ReceiptHandle"]?.string else { return nil }
            let count = m["Attributes"]?["ApproximateReceiveCount"]?.string.flatMap { Int($0) } ?? 1
            return QueueMessage(id: id, body: m["Body"]?.string ?? "", receipt: receipt, receiveCount: count)
        }
    }

    public func delete(receipt: String) async throws {
        do {
            _ = try await call("DeleteMessage", ["QueueUrl": .string(queueURL), "ReceiptHandle": .string(receipt)])
        } catch let e as StorageError where e.kind == .fatal && e.message.contains("ReceiptHandle") {
            // A stale receipt: the message was redelivered; its new holder deletes it.
        }
    }

    public func changeVisibility(receipt: String, seconds: Int) async throws -> String {
        _ = try await call(
            "ChangeMessageVisibility",
            ["QueueUrl": .string(queueURL), "ReceiptHandle": .string(receipt), "VisibilityTimeout": .int(Int64(seconds))])
        return receipt
    }

    /// Approximate number of visible messages (for tests and operators).
    public func approximateDepth() async throws -> Int {
        let answer = try await call(
            "GetQueueAttributes", ["QueueUrl": .string(queueURL), "AttributeNames": ["ApproximateNumberOfMessages"]])
        return answer["Attributes"]?["ApproximateNumberOfMessages"]?.string.flatMap { Int($0) } ?? 0
    }

    /// One JSON-protocol call; errors map to storage error kinds (a missing queue is `.notFound`).
    func call(_ action: String, _ body: [String: JSONValue]) async throws -> JSONValue {
        let payload = JSONWriter.encode(.object(body))
        guard let schemeEnd = endpoint.firstRange(of: "://") else { throw StorageError(.fatal, "bad SQS endpoint \(endpoint)") }
        let host = String(endpoint[schemeEnd.upperBound...].split(separator: "/", maxSplits: 1).first ?? "")
        let (response, _) = try await transport.send { _ in
            let headers: [(String, String)] = [
                ("Host", host), ("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.\(action)"),
            ]
            let signed = self.signer.sign(
                method: "POST", path: "/", query: [], headers: headers, payloadHash: SigV4Signer.sha256Hex(payload),
                credentials: try await self.credentials.credentials(), date: Timestamp.nowMicros() / 1_000_000, signPayloadHeader: false)
            return CloudRequest(method: .POST, url: self.endpoint + "/", headers: headers + signed.headers, body: payload)
        }
        let json = (try? JSONParser.parse(response.body)) ?? .object([:])
        guard (200..<300).contains(response.status) else {
            let type = json["__type"]?.string ?? json["code"]?.string ?? "HTTP \(response.status)"
            let message = json["message"]?.string ?? json["Message"]?.string ?? ""
            let detail = "SQS \(action): \(type) \(message)"
            if type.contains("NonExistentQueue") || type.contains("QueueDoesNotExist") { throw StorageError(.notFound, detail) }
            switch response.status {
            case 401, 403: throw StorageError(.auth, detail)
            case 429: throw StorageError(.throttled, detail)
            case 500...599: throw StorageError(.transient, detail)
            default: throw StorageError(.fatal, detail)
            }
        }
        return json
    }
}
