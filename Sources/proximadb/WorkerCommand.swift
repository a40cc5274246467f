import ArgumentParser
import Foundation
import Logging
import ProximaCloud
import ProximaEngine

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run flush, compaction and garbage-collection jobs from the queue.")

    @OptionGroup var store: StoreOptions

    @Option(help: "Jobs run at once in this process.")
    var concurrency: Int = 1

    @OptionGroup var background: BackgroundOptions

    func run() async throws {
        let logger = store.logger(label: "proximadb.worker")
        let storage = try store.open()
        guard let url = background.queueURL(storage: store.storage) else {
            throw ValidationError("a worker needs a queue: pass --queue dir:///path or sqs://name")
        }
        let worker = background.workers(storage: storage, queues: try await QueueURL.open(url), logger: logger)
        // Written straight to the file descriptor: tests wait for this line on a pipe.
        FileHandle.standardOutput.write(Data("ProximaDB worker consuming \(url) (storage: \(storage.description))\n".utf8))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, concurrency) { group.addTask { await worker.run() } }
        }
    }
}
