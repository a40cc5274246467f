import Foundation
import Logging
import Synchronization
import Testing
@testable import ProximaAPI
@testable import ProximaAuth
@testable import ProximaCloud
@testable import ProximaCore
@testable import ProximaEngine

/// The function roles answering the event shapes AWS sends: the samples in
/// Tests/fixtures/events come from `sam local generate-event`.
@Suite struct FunctionTests {
    static let events = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/events")

    /// A sample event with some fields replaced.
    static func event(_ name: String, _ change: (inout [String: JSONValue]) -> Void = { _ in }) throws -> [UInt8] {
        let bytes = try Array(Data(contentsOf: events.appendingPathComponent(name)))
        guard case .object(var o) = try JSONParser.parse(bytes) else { throw ProximaError(.invalidJSON, name) }
        change(&o)
        return JSONWriter.encode(.object(o))
    }

    /// An invocation due in `time`. The default is long: under the full suite the
    /// other tests' CPU-bound work can hold the cooperative pool for minutes, and
    /// these tests are about answers, not speed; deadlines are tested with
    /// budgets already spent (deterministic) and with work that never ends.
    static func invocation(_ event: [UInt8], in time: Duration = .seconds(1800)) -> Invocation {
        Invocation(requestId: "req-" + UUID().uuidString, deadline: .now + time, event: event)
    }

    /// An HTTP API (payload 2.0) event for a method, path and JSON body, from the sample.
    static func v2(_ method: String, _ path: String, query: String = "", body: String = "", base64: Bool = false) throws -> [UInt8] {
        try event("http-api-v2.json") { o in
            o["rawPath"] = .string(path)
            o["rawQueryString"] = .string(query)
            o["body"] = .string(base64 ? Data(body.utf8).base64EncodedString() : body)
            o["isBase64Encoded"] = .bool(base64)
            if case .object(var context) = o["requestContext"], case .object(var http) = context["http"] {
                http["method"] = .string(method)
                http["path"] = .string(path)
                context["http"] = .object(http)
                o["requestContext"] = .object(context)
            }
            o["headers"] = ["content-type": "application/json", "x-request-id": "client-chosen-id"]
        }
    }

    struct Answer {
        var json: JSONValue
        var status: Int { Int(json["statusCode"]?.integer ?? 0) }
        var body: JSONValue {
            let text = json["body"]?.string ?? ""
            let bytes = json["isBase64Encoded"] == true ? Array(Data(base64Encoded: text) ?? Data()) : Array(text.utf8)
            return (try? JSONParser.parse(bytes)) ?? .null
        }
    }

    static func answer(_ result: InvocationResult) throws -> Answer {
        guard case .response(let bytes) = result else { throw ProximaError(.internalError, "expected a response, got \(result)") }
        return Answer(json: try JSONParser.parse(bytes))
    }

    /// An engine on a temporary directory; with `queued`, jobs go to a directory
    /// queue nobody consumes (the test plays the worker), else they run inline.
    func withEngine(
        limits: RequestLimits = RequestLimits(), queued: Bool = true, _ body: (Engine, LocalDirectoryQueue) async throws -> Void
    ) async throws {
        let dir = NSTemporaryDirectory() + "proximadb-function-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let queue = try LocalDirectoryQueue(path: dir + "/.queue/jobs")
        try await body(Engine(storage: try LocalDirectoryStorage(root: dir + "/data"), limits: limits, jobs: queued ? queue : nil), queue)
    }

    @Test func httpAPIEventsReachTheRoutes() async throws {
        try await withEngine(queued: false) { engine, _ in
            let api = APIFunction(routes: RESTRoutes(engine: engine))
            let log = Logger(label: "test")
            var a = try Self.answer(
                await api.handle(Self.invocation(try Self.v2("POST", "/collections", body: #"{"name":"docs","dimension":2}"#, base64: true)), logger: log))
            #expect(a.status == 201)
            #expect(a.body["success"] == true)
            #expect(a.json["isBase64Encoded"] == false)
            #expect(a.json["headers"]?["x-request-id"] == "client-chosen-id")
            a = try Self.answer(
                await api.handle(
                    Self.invocation(try Self.v2("POST", "/collections/docs/vectors", body: #"{"vectors":[{"id":"a/b","vector":[1,0]},{"id":"c","vector":[0,1]}]}"#)),
                    logger: log))
            #expect(a.status == 200)
            #expect(a.body["data"]?["count"] == 2)
            // Percent-encoded ids in the raw path, and a query string.
            a = try Self.answer(await api.handle(Self.invocation(try Self.v2("GET", "/collections/docs/vectors/a%2Fb")), logger: log))
            #expect(a.body["data"]?["id"] == "a/b")
            a = try Self.answer(
                await api.handle(Self.invocation(try Self.v2("POST", "/collections/docs/flush", query: "wait=true")), logger: log))
            #expect(a.status == 200)
            a = try Self.answer(
                await api.handle(Self.invocation(try Self.v2("POST", "/collections/docs/search", body: #"{"vector":[0.9,0.1],"k":1}"#)), logger: log))
            #expect(a.body["data"]?["results"]?.array?.first?["id"] == "a/b")
            // A Function URL event is payload 2.0 from a lambda-url domain, without API Gateway's authorizer or stage.
            let url = try Self.event("http-api-v2.json") { o in
                o["rawPath"] = "/collections/docs"
                o["body"] = ""
                o["isBase64Encoded"] = false
                o["pathParameters"] = nil
                o["stageVariables"] = nil
                if case .object(var context) = o["requestContext"], case .object(var http) = context["http"] {
                    http["method"] = "GET"
                    http["path"] = "/collections/docs"
                    context["http"] = .object(http)
                    context["domainName"] = "abcdefgh.lambda-url.us-east-1.on.aws"
                    context["domainPrefix"] = "abcdefgh"
                    context["authorizer"] = nil
                    context["stage"] = "$default"
                    o["requestContext"] = .object(context)
                }
            }
            a = try Self.answer(await api.handle(Self.invocation(url), logger: log))
            #expect(a.status == 200)
            #expect(a.body["data"]?["vector_count"] == 2)
        }
    }

    /// The function path goes through the same door as `serve`: credentials
    /// (never anonymous unless the environment allows it) and per-address
    /// limits keyed by the address AWS reports, not by a header a caller sets.
    @Test func functionEventsNeedCredentialsAndAreRateLimitedBySourceAddress() async throws {
        try await withEngine(queued: false) { engine, _ in
            let gate = Gatekeeper(
                policy: AuthPolicy(allowAnonymous: false), keys: KeyRing(store: KeyStore(storage: engine.storage), maxAge: .zero),
                limiter: RateLimiter(perIP: RateLimit(perSecond: 0.001, burst: 3)))
            let api = APIFunction(routes: RESTRoutes(engine: engine, gate: gate))
            let log = Logger(label: "test")
            func call(_ key: String?, ip: String) async throws -> Answer {
                let event = try Self.event("http-api-v2.json") { o in
                    o["rawPath"] = "/collections"
                    o["rawQueryString"] = ""
                    o["body"] = ""
                    o["isBase64Encoded"] = false
                    var headers: [String: JSONValue] = ["x-forwarded-for": "1.2.3.4"]
                    if let key { headers["authorization"] = .string("Bearer " + key) }
                    o["headers"] = .object(headers)
                    if case .object(var context) = o["requestContext"], case .object(var http) = context["http"] {
                        http["method"] = "GET"
                        http["path"] = "/collections"
                        http["sourceIp"] = .string(ip)
                        context["http"] = .object(http)
                        o["requestContext"] = .object(context)
                    }
                }
                return try Self.answer(await api.handle(Self.invocation(event), logger: log))
            }
            #expect(try await call(nil, ip: "10.0.0.1").status == 401)
            let (key, _) = try await KeyStore(storage: engine.storage).create(tenant: try Tenant("acme"), role: .read)
            // The burst of 3 counts the refused request too (address limits come before credentials).
            let ok = try await call(key, ip: "10.0.0.1")
            #expect(ok.status == 200)
            #expect(ok.json["headers"]?["ratelimit-remaining"] == "1")
            #expect(try await call(key, ip: "10.0.0.1").status == 200)
            let limited = try await call(key, ip: "10.0.0.1")
            #expect(limited.status == 429)
            #expect(limited.json["headers"]?["retry-after"] != nil)
            // Another address has its own bucket, whatever X-Forwarded-For says.
            #expect(try await call(key, ip: "10.0.0.2").status == 200)
        }
    }

    @Test func restAPIAndALBEventsAnswerInTheirFormats() async throws {
        try await withEngine { engine, _ in
            let api = APIFunction(routes: RESTRoutes(engine: engine))
            let v1 = try Self.answer(await api.handle(Self.invocation(try Self.event("rest-api-v1.json")), logger: Logger(label: "test")))
            #expect(v1.status == 200)
            #expect(v1.body["data"] == [])
            #expect(v1.json["multiValueHeaders"]?["Content-Type"] == ["application/json"])
            let alb = try Self.answer(await api.handle(Self.invocation(try Self.event("alb.json")), logger: Logger(label: "test")))
            #expect(alb.status == 200)
            #expect(alb.json["statusDescription"] == "200 OK")
            #expect(alb.json["headers"]?["Content-Type"] == "application/json")
        }
    }

    @Test func badRequestsGetHTTPAnswersAndBadEventsGetErrors() async throws {
        var limits = RequestLimits()
        limits.maxBodyBytes = 1024
        try await withEngine(limits: limits) { engine, _ in
            let api = APIFunction(routes: RESTRoutes(engine: engine))
            let log = Logger(label: "test")
            var a = try Self.answer(await api.handle(Self.invocation(try Self.v2("GET", "/no/such/route")), logger: log))
            #expect(a.status == 404)
            #expect(a.body["error"] == "not_found")
            a = try Self.answer(await api.handle(Self.invocation(try Self.v2("POST", "/collections", body: "{nope"), in: .seconds(30)), logger: log))
            #expect(a.body["error"] == "invalid_json")
            let big = #"{"name":"x","dimension":2,"description":""# + String(repeating: "y", count: 4096) + #""}"#
            a = try Self.answer(await api.handle(Self.invocation(try Self.v2("POST", "/collections", body: big)), logger: log))
            #expect(a.status == 413)
            #expect(a.body["error"] == "payload_too_large")
            // Time already spent: answered, not killed.
            a = try Self.answer(await api.handle(Self.invocation(try Self.v2("GET", "/collections"), in: .milliseconds(10)), logger: log))
            #expect(a.status == 504)
            #expect(a.body["error"] == "deadline_exceeded")
            for bad in [try Self.event("scheduled.json"), Array("not json".utf8), Array("[1,2]".utf8)] {
                guard case .error(let type, _) = await api.handle(Self.invocation(bad), logger: log) else {
                    Issue.record("a non-HTTP event must be a function error")
                    continue
                }
                #expect(type == "InvalidEvent")
            }
        }
    }

    @Test func workerReportsOnlyTheMessagesThatFailed() async throws {
        try await withEngine { engine, _ in
            let path = try CollectionPath(.default, "docs")
            let config = try await engine.createCollection(CollectionSpec(name: "docs", dimension: 2), tenant: .default)
            _ = try await engine.write(path, .insert([.init(id: "a", vector: [1, 0])], upsert: true))
            let flush = JobMessage(kind: .flush, tenant: "default", collectionId: config.id, collection: "docs", jobId: JobMessage.newJobId(now: Timestamp.nowMicros()))
            let sample = try JSONParser.parse(try Self.event("sqs.json"))["Records"]!.array![0].object!
            func record(_ id: String, _ body: String) -> JSONValue {
                var r = sample
                r["messageId"] = .string(id)
                r["body"] = .string(body)
                return .object(r)
            }
            let event = JSONWriter.encode(["Records": [record("good", flush.json), record("poison", "{not a job")]])
            let a = try Self.answer(await WorkerFunction(engine: engine).handle(Self.invocation(event), logger: Logger(label: "test")))
            #expect(a.json == ["batchItemFailures": [["itemIdentifier": "poison"]]])
            let (_, stats) = try await engine.describeCollection(path)
            #expect(stats.manifestVersion >= 1)
            #expect(stats.unflushedWALBytes == 0)
            // Time already spent: every message goes back.
            let late = try Self.answer(await WorkerFunction(engine: engine).handle(Self.invocation(event, in: .milliseconds(10)), logger: Logger(label: "test")))
            #expect(late.json["batchItemFailures"]?.array?.count == 2)
            guard case .error = await WorkerFunction(engine: engine).handle(Self.invocation(try Self.event("scheduled.json")), logger: Logger(label: "test")) else {
                Issue.record("a non-SQS event must be a function error")
                return
            }
        }
    }

    @Test func droppedCollectionsDataIsDeletedByTheWorker() async throws {
        try await withEngine { engine, queue in
            let path = try CollectionPath(.default, "docs")
            let old = try await engine.createCollection(CollectionSpec(name: "docs", dimension: 2), tenant: .default)
            _ = try await engine.write(path, .insert([.init(id: "a", vector: [1, 0])], upsert: true))
            try await engine.deleteCollection(path)
            // Dropped and created again before the worker runs: the new data must survive the old drop.
            _ = try await engine.createCollection(CollectionSpec(name: "docs", dimension: 2), tenant: .default)
            _ = try await engine.write(path, .insert([.init(id: "b", vector: [0, 1])], upsert: true))
            let layout = engine.layout(.default)
            #expect(try await !engine.storage.listAll(prefix: layout.collectionPrefix(old.id)).isEmpty, "the handler deleted no data")
            let messages = try await queue.receive(max: 10, visibilityTimeoutSeconds: 30, waitSeconds: 0)
            #expect(messages.compactMap { JobMessage(json: $0.body)?.kind } == [.drop])
            let sample = try JSONParser.parse(try Self.event("sqs.json"))["Records"]!.array![0].object!
            let records: [JSONValue] = messages.map { m in
                var r = sample
                r["messageId"] = .string(m.id)
                r["body"] = .string(m.body)
                return .object(r)
            }
            let a = try Self.answer(
                await WorkerFunction(engine: engine).handle(Self.invocation(JSONWriter.encode(["Records": .array(records)])), logger: Logger(label: "test")))
            #expect(a.json == ["batchItemFailures": []])
            #expect(try await engine.storage.listAll(prefix: layout.collectionPrefix(old.id)).isEmpty)
            #expect(try await engine.getVector(path, id: "b").id == "b")
        }
    }

    @Test func sweepQueuesTheFlushOfAnIdleTail() async throws {
        try await withEngine { engine, queue in
            let path = try CollectionPath(.default, "docs")
            _ = try await engine.createCollection(CollectionSpec(name: "docs", dimension: 2), tenant: .default)
            _ = try await engine.write(path, .insert([.init(id: "a", vector: [1, 0])], upsert: true))
            let a = try Self.answer(await SweepFunction(engine: engine).handle(Self.invocation(try Self.event("scheduled.json")), logger: Logger(label: "test")))
            #expect(a.json["collections"] == 1)
            #expect(a.json["queued"]?["flush"] == 1)
            let messages = try await queue.receive(max: 10, visibilityTimeoutSeconds: 30, waitSeconds: 0)
            #expect(messages.compactMap { JobMessage(json: $0.body)?.kind } == [.flush])
        }
    }

    @Test func deadlinesStopWaitingForWorkThatIgnoresCancellation() async throws {
        // Work that ignores cancellation and never ends until told: only the deadline can answer.
        final class Flag: Sendable { let raised = Atomic<Bool>(false) }
        let stop = Flag()
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.now + .milliseconds(100)) {
                while !stop.raised.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(10)) }
            }
        }
        stop.raised.store(true, ordering: .relaxed)
        #expect(try await withDeadline(.now + .seconds(600)) { 42 } == 42)
        await #expect(throws: DeadlineExceeded.self) { try await withDeadline(.now - .seconds(1)) { 42 } }
    }
}
