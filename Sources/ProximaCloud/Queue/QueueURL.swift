import Foundation

/// Opens the queue a URL names, with its dead-letter queue:
/// - `dir:///path` (or `file://`, or a bare path): a local directory queue;
///   dead letters go to `path-dead`;
/// - `sqs://name`: the SQS queue `name` (created if missing), dead letters to
///   `name-dead`; endpoint, region and credentials as for the AWS CLI;
/// - `https://sqs.REGION.amazonaws.com/ACCOUNT/name` (or any `http(s)://`
///   queue URL, as moto and LocalStack give them): that SQS queue, with no
///   request at start-up (a function's cold start should not wait on SQS);
///   dead letters to the same URL with `-dead`. A CloudFormation `!Ref` of a
///   queue is such a URL.
public enum QueueURL {
    public static func open(
        _ url: String, environment: [String: String] = ProcessInfo.processInfo.environment, transport: HTTPTransport? = nil
    ) async throws -> (queue: any CloudQueue, deadLetter: any CloudQueue) {
        if url.hasPrefix("sqs://") {
            let name = String(url.dropFirst("sqs://".count))
            guard !name.isEmpty, !name.contains("/") else { throw StorageError(.fatal, "sqs:// URLs are sqs://queue-name") }
            let transport = transport ?? HTTPTransport()
            return (
                try await SQSQueue.named(name, create: true, environment: environment, transport: transport),
                try await SQSQueue.named(name + "-dead", create: true, environment: environment, transport: transport)
            )
        }
        if url.hasPrefix("https://") || url.hasPrefix("http://") {
            let transport = transport ?? HTTPTransport()
            return (
                try SQSQueue.at(url: url, environment: environment, transport: transport),
                try SQSQueue.at(url: url + "-dead", environment: environment, transport: transport)
            )
        }
        var path = url
        for scheme in ["dir://", "file://"] where path.hasPrefix(scheme) { path = String(path.dropFirst(scheme.count)) }
        guard !path.contains("://") else { throw StorageError(.fatal, "unsupported queue URL '\(url)' (supported: dir://, sqs://)") }
        if !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return (try LocalDirectoryQueue(path: path), try LocalDirectoryQueue(path: path + "-dead"))
    }
}
