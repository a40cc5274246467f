import ArgumentParser

@main
struct ProximaDB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proximadb",
        abstract: "ProximaDB: a serverless vector database whose source of truth is object storage.",
        subcommands: [Serve.self, WorkerCommand.self, Collections.self, Insert.self, Search.self, BenchStorage.self, BenchANN.self]
    )
}
