import ArgumentParser
import Logging
import ProximaAPI
import ProximaAuth
import ProximaCloud
import ProximaEngine

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the REST API (port 5678) over a storage URL.")

    @OptionGroup var store: StoreOptions

    @Option(help: "Address to listen on (0.0.0.0 for containers: needs an API key, JWT settings or --allow-unauthenticated).")
    var host: String = "127.0.0.1"

    @Option(help: "REST port (0 picks a free one).")
    var port: Int = 5678

    @Option(help: "gRPC port (proto/proximadb.proto), on the same host and TLS as REST; 0 turns gRPC off.")
    var grpcPort: Int = 5679

    @Option(help: "PEM certificate chain: serve HTTPS.")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "Seconds requests in flight may take after SIGTERM before the process exits anyway.")
    var shutdownTimeout: Int = 10

    @Option(help: "Seconds one request may take before it is cancelled and answered 504 deadline_exceeded (0: no limit).")
    var requestTimeout: Int = 300

    @OptionGroup var access: AccessOptions

    @Option(help: "Largest request body accepted, in MiB.")
    var maxBodyMb: Int = 64

    @Option(help: "Most vectors accepted in one write request.")
    var maxBatch: Int = 10_000

    @Option(help: "Job workers inside this process (0: leave the queue to `proximadb worker` processes).")
    var workers: Int = 1

    @OptionGroup var background: BackgroundOptions

    func run() async throws {
        tuneMallocForLargeBodies()
        let logger = store.logger(label: "proximadb")
        let storage = try store.open()
        var queues: (queue: any CloudQueue, deadLetter: any CloudQueue)?
        if let url = background.queueURL(storage: store.storage) { queues = try await QueueURL.open(url) }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        var limits = RequestLimits()
        limits.maxBodyBytes = maxBodyMb * 1024 * 1024
        limits.maxBatchVectors = maxBatch
        var settings = background.settings
        settings.memoryBudgetBytes = store.memoryBudget?.bytes
        let engine = Engine(storage: storage, maintenance: settings, limits: limits, jobs: queues?.queue, logger: logger)
        if let queues {
            let worker = background.workers(storage: storage, queues: queues, logger: logger)
            for _ in 0..<max(0, workers) { Task.detached { await worker.run() } }
        }
        let gate = try await access.gatekeeper(storage: engine.storage, loopbackOnly: ListenOptions.isLoopback(host))
        try await access.checkExposure(host: host, gate: gate, logger: logger)
        let options = ListenOptions(
            host: host, port: port, tls: tlsCert.map { ($0, tlsKey!) }, shutdownTimeout: .seconds(max(0, shutdownTimeout)),
            grpcPort: grpcPort > 0 ? grpcPort : nil)
        var routes = RESTRoutes(engine: engine, gate: gate, requestTimeout: requestTimeout > 0 ? .seconds(requestTimeout) : nil)
        routes.grpcPort = options.grpcPort
        try await ProximaServer.run(routes: routes, options: options, logger: logger)
    }
}

/// Request bodies and WAL batches are megabytes: keep them on the heap rather
/// than mmap-ing (and zeroing) fresh pages for every request.
func tuneMallocForLargeBodies() {
    #if canImport(Glibc)
    _ = glibcMallopt(-3, 256 << 20)  // M_MMAP_THRESHOLD
    _ = glibcMallopt(-1, 512 << 20)  // M_TRIM_THRESHOLD
    #endif
}

#if canImport(Glibc)
// <malloc.h> is not part of the Glibc module.
@_silgen_name("mallopt")
func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
