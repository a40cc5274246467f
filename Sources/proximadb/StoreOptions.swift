import ArgumentParser
import Logging
import ProximaCloud

/// Where the data lives and how much to log: shared by `serve` and `worker`.
struct StoreOptions: ParsableArguments {
    @Option(help: "Where the data lives: a path, file:///path, s3://bucket/prefix, gs://bucket/prefix, az://account/container/prefix.")
    var storage: String = "file://./proximadb-data"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func logger(label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return logger
    }

    func open() throws -> any CloudStorage { try StorageURL.open(storage) }
}
