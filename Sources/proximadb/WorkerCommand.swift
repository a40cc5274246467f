import ArgumentParser
import Foundation
import Logging
import ProximaCloud
import ProximaEngine

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run flush, compaction and garbage-collection jobs from the queue.")

    @Option(help: "Where the data lives: a path, file://, s3://, gs://, az://.")
    var storage: String = "file://./proximadb-data"

    @Option(help: "Jobs run at once in this process.")
    var concurrency: Int = 1

    @Option(help: "Log level.")
    var logLevel: String = "info"

    @OptionGroup var background: BackgroundOptions

    func run() async throws {
        var logger = Logger(label: "proximadb.worker")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let store = try StorageURL.open(storage)
        guard let url = background.queueURL(storage: storage) else {
            throw ValidationError("a worker needs a queue: pass --queue dir:///path or sqs://name")
        }
        let worker = background.workers(storage: store, queues: try await QueueURL.open(url), logger: logger)
        // Written straight to the file descriptor: tests wait for this line on a pipe.
        FileHandle.standardOutput.write(Data("ProximaDB worker consuming \(url) (storage: \(store.description))\n".utf8))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, concurrency) { group.addTask { await worker.run() } }
        }
    }
}
