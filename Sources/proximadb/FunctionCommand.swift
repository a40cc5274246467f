import ArgumentParser
import Foundation
import Logging
import ProximaAPI
import ProximaCloud
import ProximaEngine

/// `proximadb function`: the process behind the Lambda Runtime API. The zip's
/// `bootstrap` starts it; its role comes from Lambda's `_HANDLER` (the
/// function's Handler setting) and its configuration from the environment,
/// as a function has no command line of its own.
struct FunctionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "function",
        abstract: "Serve function events through the Lambda Runtime API (role from _HANDLER: api, worker or sweep).",
        discussion: """
            Environment: AWS_LAMBDA_RUNTIME_API (set by Lambda), _HANDLER (api | worker | sweep), \
            PROXIMADB_STORAGE (storage URL), PROXIMADB_QUEUE (queue URL: an SQS queue URL, sqs://name, \
            dir:///path or inline), PROXIMADB_CACHE_DIR (disk cache, default /tmp/proximadb), PROXIMADB_CACHE_MB \
            (default 400), PROXIMADB_MEMORY_BUDGET (as serve's --memory-budget), PROXIMADB_REDIS_URL (shared cache), PROXIMADB_LOG_LEVEL, PROXIMADB_LOG_FORMAT (json | text), \
            PROXIMADB_MAX_BODY_MB, PROXIMADB_GC_GRACE_SECONDS, PROXIMADB_MAX_UNINDEXED_MB, \
            PROXIMADB_FLUSH_THRESHOLD_MB; access (api role): PROXIMADB_AUTH, \
            PROXIMADB_ALLOW_UNAUTHENTICATED, PROXIMADB_REQUIRE_AUTH_FOR_HEALTH, PROXIMADB_JWT_JWKS, PROXIMADB_JWT_ISSUER, \
            PROXIMADB_JWT_AUDIENCE, PROXIMADB_JWT_TENANT_CLAIM, PROXIMADB_RATE_LIMIT_PER_KEY, PROXIMADB_RATE_LIMIT_PER_IP, \
            PROXIMADB_RATE_LIMIT_GLOBAL, PROXIMADB_MAX_COLLECTIONS, PROXIMADB_MAX_VECTORS, PROXIMADB_MAX_BYTES (the serve flags \
            of the same names); credentials from the AWS_* variables Lambda sets.
            """)

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case api, worker, sweep
    }

    @Option(help: "The role, instead of _HANDLER.")
    var role: Role?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        bootstrapLogging(
            format: LogFormat(rawValue: env["PROXIMADB_LOG_FORMAT"] ?? "json") ?? .json,
            level: Logger.Level(rawValue: env["PROXIMADB_LOG_LEVEL"] ?? "info") ?? .info,
            metadataProvider: InvocationContext.metadataProvider)
        let logger = Logger(label: "proximadb.function")
        guard let endpoint = env["AWS_LAMBDA_RUNTIME_API"], !endpoint.isEmpty else {
            throw ValidationError("AWS_LAMBDA_RUNTIME_API is not set: this command runs inside Lambda or its Runtime Interface Emulator")
        }
        tuneMallocForLargeBodies()
        let runtime = try FunctionRuntime(endpoint: endpoint, logger: logger)
        try await runtime.run { try await makeHandler(env: env, logger: logger) }
    }

    func makeHandler(env: [String: String], logger: Logger) async throws -> any FunctionHandler {
        // A Handler setting may be dotted ("bootstrap.api"): the role is its last part.
        let handlerName = env["_HANDLER"].flatMap { $0.split(separator: ".").last.map(String.init) }
        guard let role = role ?? handlerName.flatMap(Role.init(rawValue:)) else {
            throw ValidationError("_HANDLER must name a role: api, worker or sweep (got '\(env["_HANDLER"] ?? "")')")
        }
        guard let storageURL = env["PROXIMADB_STORAGE"], !storageURL.isEmpty else {
            throw ValidationError("PROXIMADB_STORAGE must name the storage URL (s3://bucket/prefix, gs://…, az://…, file:///…)")
        }
        // Lambda's /tmp outlives an invocation in a warm sandbox: immutable objects read once stay there.
        let cacheDir = env["PROXIMADB_CACHE_DIR"] ?? "/tmp/proximadb"
        var memoryBudget: Int?
        if let text = env["PROXIMADB_MEMORY_BUDGET"], !text.isEmpty {
            guard let size = ByteSize(argument: text) else { throw ValidationError("PROXIMADB_MEMORY_BUDGET must be a size such as 512MiB (got '\(text)')") }
            memoryBudget = size.bytes
        }
        let storage = try cachedStorage(
            StorageURL.open(storageURL), cacheDir: cacheDir, cacheMB: env["PROXIMADB_CACHE_MB"].flatMap(Int.init) ?? 400,
            redisURL: env["PROXIMADB_REDIS_URL"], memoryBudget: memoryBudget)
        var jobs: (any CloudQueue)?
        if let url = env["PROXIMADB_QUEUE"], !url.isEmpty, url != "inline" { jobs = try await QueueURL.open(url).queue }
        if jobs == nil, role != .api {
            throw ValidationError("the \(role.rawValue) role needs PROXIMADB_QUEUE (follow-up and swept jobs go there)")
        }
        let defaults = try BackgroundOptions.parse([])
        var settings = BackgroundOptions.settings(
            flushThresholdMb: env["PROXIMADB_FLUSH_THRESHOLD_MB"].flatMap(Int.init) ?? defaults.flushThresholdMb,
            maxUnindexedMb: env["PROXIMADB_MAX_UNINDEXED_MB"].flatMap(Int.init) ?? defaults.maxUnindexedMb,
            gcGraceSeconds: env["PROXIMADB_GC_GRACE_SECONDS"].flatMap(Int.init) ?? defaults.gcGraceSeconds)
        settings.memoryBudgetBytes = memoryBudget
        var limits = RequestLimits()
        if let mb = env["PROXIMADB_MAX_BODY_MB"].flatMap(Int.init) { limits.maxBodyBytes = max(1, mb) << 20 }
        let engine = Engine(storage: storage, maintenance: settings, limits: limits, jobs: jobs, logger: logger)
        logger.info("ProximaDB \(RESTRoutes.version) function role \(role.rawValue) (storage: \(storage.description), queue: \(jobs?.description ?? "inline"), cache: \(cacheDir))")
        switch role {
        case .api:
            // A function URL is on the internet: requests without credentials are refused unless the
            // environment says otherwise, even before the first key exists.
            let gate = try await AccessOptions.fromEnvironment(env).gatekeeper(storage: engine.storage, loopbackOnly: false)
            return APIFunction(routes: RESTRoutes(engine: engine, gate: gate))
        case .worker: return WorkerFunction(engine: engine)
        case .sweep: return SweepFunction(engine: engine)
        }
    }
}
