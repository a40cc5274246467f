import Testing
@testable import ProximaCloud

/// Vectors from AWS's published SigV4 test suite (aws-sig-v4-test-suite,
/// 2015-08-30, AKIDEXAMPLE, us-east-1, service "service").
@Suite struct SigV4Tests {
    let credentials = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    let date: Int64 = 1_440_938_160  // 2015-08-30T12:36:00Z
    let signer = SigV4Signer(region: "us-east-1", service: "service")

    struct Vector: Sendable, CustomStringConvertible {
        var name: String
        var method = "GET"
        var path = "/"
        var query: [(String, String)] = []
        var headers: [(String, String)] = []
        var body = ""
        var signedHeaders: String
        var signature: String
        var description: String { name }
    }

    static let vectors: [Vector] = [
        Vector(name: "get-vanilla", signedHeaders: "host;x-amz-date", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(
            name: "get-unreserved", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            signedHeaders: "host;x-amz-date", signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
        Vector(name: "get-slashes", path: "//example//", signedHeaders: "host;x-amz-date", signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
        Vector(
            name: "get-vanilla-query-order-key-case", query: [("Param2", "value2"), ("Param1", "value1")],
            signedHeaders: "host;x-amz-date", signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        Vector(
            name: "get-vanilla-query-order-value", query: [("Param1", "value2"), ("Param1", "value1")],
            signedHeaders: "host;x-amz-date", signature: "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
        Vector(
            name: "get-vanilla-utf8-query", query: [("\u{1234}", "bar")],
            signedHeaders: "host;x-amz-date", signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
        Vector(
            name: "get-header-value-order", headers: [("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2")],
            signedHeaders: "host;my-header1;x-amz-date", signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
        Vector(
            name: "get-header-key-duplicate", headers: [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            signedHeaders: "host;my-header1;x-amz-date", signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
        Vector(
            name: "get-header-value-trim", headers: [("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")],
            signedHeaders: "host;my-header1;my-header2;x-amz-date", signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        Vector(
            name: "post-x-www-form-urlencoded", method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: "Param1=value1", signedHeaders: "content-type;host;x-amz-date",
            signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    ]

    @Test(arguments: vectors)
    func publishedVector(_ v: Vector) {
        let signed = signer.sign(
            method: v.method, path: SigV4Signer.encodePath(v.path), query: v.query,
            headers: [("Host", "example.amazonaws.com")] + v.headers, payloadHash: SigV4Signer.sha256Hex(Array(v.body.utf8)),
            credentials: credentials, date: date, signPayloadHeader: false)
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=\(v.signedHeaders), Signature=\(v.signature)")
    }

    @Test func canonicalRequestOfGetVanillaQueryOrderKeyCase() {
        let signed = signer.sign(
            method: "GET", path: "/", query: [("Param2", "value2"), ("Param1", "value1")], headers: [("Host", "example.amazonaws.com")],
            payloadHash: SigV4Signer.emptyPayloadHash, credentials: credentials, date: date, signPayloadHeader: false)
        #expect(
            signed.canonicalRequest
                == "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(SigV4Signer.emptyPayloadHash)")
        #expect(signed.stringToSign.hasPrefix("AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"))
    }

    @Test func sessionTokenIsSigned() {
        var c = credentials
        c.sessionToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        let signed = signer.sign(
            method: "GET", path: "/", query: [], headers: [("Host", "example.amazonaws.com")], payloadHash: SigV4Signer.emptyPayloadHash,
            credentials: c, date: date, signPayloadHeader: false)
        #expect(signed.authorization.hasSuffix("SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"))
    }

    /// The S3 example of the Amazon S3 API reference ("GET Object", bytes 0-9).
    @Test func s3GetObjectExample() {
        let s3 = SigV4Signer(region: "us-east-1", service: "s3")
        let signed = s3.sign(
            method: "GET", path: "/test.txt", query: [],
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")], payloadHash: SigV4Signer.emptyPayloadHash,
            credentials: AWSCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            date: 1_369_353_600, signPayloadHeader: true)
        #expect(signed.authorization.hasSuffix("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
    }

    /// The same documented request, built by `S3Storage` in virtual-hosted
    /// style (bucket in the host name, as on AWS itself).
    @Test func s3StorageBuildsTheDocumentedVirtualHostedRequest() async throws {
        let s3 = try S3Storage(
            .init(bucket: "examplebucket", endpoint: "https://s3.amazonaws.com", pathStyle: false),
            credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")))
        let r = try await s3.request(.GET, key: "test.txt", headers: [("Range", "bytes=0-9")], now: 1_369_353_600)
        #expect(r.url == "https://examplebucket.s3.amazonaws.com/test.txt")
        let auth = r.headers.first { $0.0 == "Authorization" }?.1 ?? ""
        #expect(auth.hasSuffix("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
        // Path-style puts the bucket in the path instead.
        let path = try S3Storage(
            .init(bucket: "examplebucket", prefix: "p", endpoint: "http://127.0.0.1:9000"),
            credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: "a", secretAccessKey: "b")))
        #expect(try await path.request(.GET, key: "k").url == "http://127.0.0.1:9000/examplebucket/p/k")
        #expect(try await path.request(.GET, key: nil, query: [("list-type", "2"), ("prefix", "p/a b")]).url == "http://127.0.0.1:9000/examplebucket?list-type=2&prefix=p%2Fa%20b")
    }

    @Test func pathEncoding() {
        #expect(SigV4Signer.encodePath("/a b/ü/x+y") == "/a%20b/%C3%BC/x%2By")
        #expect(SigV4Signer.encode("a/b=c") == "a%2Fb%3Dc")
    }
}
