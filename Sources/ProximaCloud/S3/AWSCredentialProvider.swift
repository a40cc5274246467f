/// Where S3 (and SQS) requests get their credentials.
public protocol AWSCredentialProvider: Sendable {
    func credentials() async throws -> AWSCredentials
}

public struct StaticCredentialProvider: AWSCredentialProvider {
    let value: AWSCredentials
    public init(_ value: AWSCredentials) { self.value = value }
    public func credentials() async throws -> AWSCredentials { value }
}
