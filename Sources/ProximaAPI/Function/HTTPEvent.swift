import Foundation
import HTTPTypes
import Hummingbird
import ProximaCore

/// An HTTP request that arrived as a function event, in one of the shapes AWS
/// sends: API Gateway HTTP API and Lambda Function URLs (payload format 2.0),
/// API Gateway REST APIs (1.0) and Application Load Balancers. Each shape is
/// answered in its own response format.
struct HTTPEvent: Equatable {
    enum Format: Equatable {
        /// HTTP API payload 2.0 and Function URLs: raw path and query, cookies apart.
        case v2
        /// REST API payload 1.0: decoded path and parameters, multi-value maps.
        case v1
        /// ALB: raw path and parameters; multi-value maps when the target group enables them.
        case alb(multiValue: Bool)
    }

    var format: Format
    var method: HTTPRequest.Method
    /// Path and query as they go on a request line, percent-encoded.
    var target: String
    var headers: HTTPFields
    var body: [UInt8]
    /// The caller's IP address as AWS saw it (for per-address rate limits).
    var sourceAddress: String?

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// Recognises the shape by its fields; anything else is not an HTTP event.
    init(json: JSONValue) throws(Invalid) {
        guard case .object(let o) = json else { throw Invalid(description: "the event is not a JSON object") }
        let context = o["requestContext"]?.object
        if o["version"]?.string == "2.0", let http = context?["http"]?.object {
            format = .v2
            method = try Self.method(http["method"]?.string)
            let path = o["rawPath"]?.string ?? http["path"]?.string ?? "/"
            let query = o["rawQueryString"]?.string ?? ""
            target = query.isEmpty ? path : path + "?" + query
            headers = Self.headers(single: o["headers"]?.object, multi: nil)
            sourceAddress = http["sourceIp"]?.string
            if let cookies = o["cookies"]?.array?.compactMap(\.string), !cookies.isEmpty {
                headers[.cookie] = cookies.joined(separator: "; ")
            }
        } else if let httpMethod = o["httpMethod"]?.string {
            method = try Self.method(httpMethod)
            let isALB = context?["elb"] != nil
            let multi = o["multiValueHeaders"]?.object
            format = isALB ? .alb(multiValue: multi != nil) : .v1
            headers = Self.headers(single: o["headers"]?.object, multi: multi)
            // An ALB appends the address it saw to X-Forwarded-For: the last entry is the one a caller cannot forge.
            sourceAddress = isALB
                ? headers[HTTPField.Name("X-Forwarded-For")!]?.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) }
                : context?["identity"]?["sourceIp"]?.string
            let path = o["path"]?.string ?? "/"
            // REST APIs hand over the path and parameters decoded; ALB as they arrived.
            let encodedPath = isALB ? path : Self.encodePath(path)
            let pairs = Self.queryPairs(single: o["queryStringParameters"]?.object, multi: o["multiValueQueryStringParameters"]?.object)
            let query = pairs.map { isALB ? "\($0)=\($1)" : "\(Self.encodeQuery($0))=\(Self.encodeQuery($1))" }.joined(separator: "&")
            target = query.isEmpty ? encodedPath : encodedPath + "?" + query
        } else {
            throw Invalid(description: "not an HTTP event (no API Gateway, Function URL or ALB request fields)")
        }
        let raw = o["body"]?.string ?? ""
        if o["isBase64Encoded"]?.bool == true, !raw.isEmpty {
            guard let data = Data(base64Encoded: raw, options: .ignoreUnknownCharacters) else {
                throw Invalid(description: "isBase64Encoded is true but the body is not base64")
            }
            body = Array(data)
        } else {
            body = Array(raw.utf8)
        }
    }

    /// The request the router answers.
    var request: Request {
        var fields = headers
        fields[.contentLength] = String(body.count)
        // HTTPTypes keeps the host as the request's authority, not a header.
        let host = HTTPField.Name("Host")!
        let authority = fields[host] ?? "lambda"
        fields[host] = nil
        let head = HTTPRequest(method: method, scheme: "https", authority: authority, path: target, headerFields: fields)
        return Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
    }

    /// The router's answer in this event's response format. Bodies that are
    /// text go as text; anything else as base64.
    func answer(status: HTTPResponse.Status, headers: HTTPFields, body: [UInt8]) -> JSONValue {
        var single: [String: JSONValue] = [:]
        var multi: [String: [JSONValue]] = [:]
        var cookies: [JSONValue] = []
        for field in headers {
            if format == .v2, field.name == .setCookie {
                cookies.append(.string(field.value))
                continue
            }
            // Payload 2.0 speaks lower-case names (as HTTP/2 does); the older shapes keep ours.
            let name = format == .v2 ? field.name.canonicalName : field.name.rawName
            multi[name, default: []].append(.string(field.value))
            // Payload 2.0 folds repeated headers with commas; the others keep the last in `headers`.
            if format == .v2, let previous = single[name]?.string {
                single[name] = .string(previous + "," + field.value)
            } else {
                single[name] = .string(field.value)
            }
        }
        let text = Self.isText(headers[.contentType]) ? String(validating: body, as: UTF8.self) : nil
        var o: [String: JSONValue] = [
            "statusCode": .int(Int64(status.code)),
            "body": .string(text ?? Data(body).base64EncodedString()),
            "isBase64Encoded": .bool(text == nil),
        ]
        switch format {
        case .v2:
            o["headers"] = .object(single)
            if !cookies.isEmpty { o["cookies"] = .array(cookies) }
        case .v1:
            o["headers"] = .object(single)
            o["multiValueHeaders"] = .object(multi.mapValues { .array($0) })
        case .alb(let multiValue):
            o["statusDescription"] = .string("\(status.code) \(status.reasonPhrase)")
            if multiValue { o["multiValueHeaders"] = .object(multi.mapValues { .array($0) }) } else { o["headers"] = .object(single) }
        }
        return .object(o)
    }

    // MARK: pieces

    static func method(_ name: String?) throws(Invalid) -> HTTPRequest.Method {
        guard let name, let m = HTTPRequest.Method(name.uppercased()) else { throw Invalid(description: "no valid HTTP method") }
        return m
    }

    static func headers(single: [String: JSONValue]?, multi: [String: JSONValue]?) -> HTTPFields {
        var fields = HTTPFields()
        if let multi {
            for (name, values) in multi.sorted(by: { $0.key < $1.key }) {
                guard let n = HTTPField.Name(name) else { continue }
                for v in values.array ?? [] { if let s = v.string { fields.append(HTTPField(name: n, value: s)) } }
            }
            return fields
        }
        for (name, value) in (single ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let n = HTTPField.Name(name), let s = value.string else { continue }
            fields.append(HTTPField(name: n, value: s))
        }
        return fields
    }

    static func queryPairs(single: [String: JSONValue]?, multi: [String: JSONValue]?) -> [(String, String)] {
        if let multi {
            return multi.sorted { $0.key < $1.key }.flatMap { key, values in (values.array ?? []).compactMap(\.string).map { (key, $0) } }
        }
        return (single ?? [:]).sorted { $0.key < $1.key }.compactMap { key, value in value.string.map { (key, $0) } }
    }

    static func encodePath(_ path: String) -> String {
        path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
    }

    static func encodeQuery(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? s
    }

    static func isText(_ contentType: String?) -> Bool {
        guard let type = contentType?.lowercased() else { return false }
        return type.hasPrefix("text/") || type.contains("json") || type.contains("xml") || type.contains("yaml")
    }
}
