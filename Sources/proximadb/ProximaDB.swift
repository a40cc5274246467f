import ArgumentParser
import Foundation

@main
struct ProximaDB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proximadb",
        abstract: "ProximaDB: a serverless vector database whose source of truth is object storage.",
        subcommands: [Serve.self, WorkerCommand.self, FunctionCommand.self, Keys.self, Collections.self, Insert.self, Search.self, BenchStorage.self, BenchANN.self]
    )

    /// Started with no arguments by a function runtime (AWS_LAMBDA_RUNTIME_API
    /// set), this is the function host. The launcher passes `function`, but
    /// Swift reads a statically linked program's arguments from
    /// /proc/self/cmdline, which a minimal root may not mount.
    static func main() async {
        if CommandLine.arguments.count <= 1, ProcessInfo.processInfo.environment["AWS_LAMBDA_RUNTIME_API"] != nil {
            await FunctionCommand.main([])
        } else {
            await main(nil)
        }
    }
}
