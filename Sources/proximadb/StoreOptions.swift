import ArgumentParser
import Logging
import ProximaAPI
import ProximaCloud
import ProximaEngine
import Synchronization

/// Where the data lives and how much to log: shared by `serve` and `worker`.
struct StoreOptions: ParsableArguments {
    @Option(help: "Where the data lives: a path, file:///path, s3://bucket/prefix, gs://bucket/prefix, az://account/container/prefix.")
    var storage: String = "file://./proximadb-data"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Log lines as json (one object per line) or text.")
    var logFormat: LogFormat = .json

    @Option(help: "A local-disk cache of immutable objects (segments, index files, WAL, manifests) in this folder.")
    var cacheDir: String?

    @Option(help: "Most MiB the disk cache holds.")
    var cacheMb: Int = 2048

    @Option(help: "A Redis cache shared between processes: redis://[user:password@]host:port[/db][?prefix=p].")
    var redisUrl: String?

    @Option(
        help: """
            Resident memory to stay within while serving (e.g. 256MiB, 2GiB): IVF-indexed segments are then read \
            by range per query instead of loaded, and a memory cache of a quarter of it sits in front of the other tiers.
            """)
    var memoryBudget: ByteSize?

    @Option(help: ArgumentHelp("Adds this many milliseconds to every object-store request (benchmarks of the read path).", visibility: .hidden))
    var storageLatencyMs: Int = 0

    func logger(label: String) -> Logger {
        bootstrapLogging(format: logFormat, level: Logger.Level(rawValue: logLevel) ?? .info)
        return Logger(label: label)
    }

    /// The store, read through the cache tiers asked for (disk, then Redis).
    func open() throws -> any CloudStorage {
        var store = try StorageURL.open(storage)
        if storageLatencyMs > 0 { store = LatencyStorage(store, latency: .milliseconds(storageLatencyMs)) }
        return try cachedStorage(store, cacheDir: cacheDir, cacheMB: cacheMb, redisURL: redisUrl, memoryBudget: memoryBudget?.bytes)
    }
}

/// `store` behind the memory, disk and Redis tiers that are configured; `store` itself when none is.
func cachedStorage(_ store: any CloudStorage, cacheDir: String?, cacheMB: Int, redisURL: String?, memoryBudget: Int?) throws -> any CloudStorage {
    var tiers: [any CloudCache] = []
    if let memoryBudget, memoryBudget >= 16 << 20 { tiers.append(MemoryCache(capacityBytes: memoryBudget / 4)) }
    if let cacheDir, !cacheDir.isEmpty { tiers.append(try DiskCache(path: cacheDir, capacityBytes: max(1, cacheMB) << 20)) }
    if let redisURL, !redisURL.isEmpty { tiers.append(try RedisCache(url: redisURL)) }
    return tiers.isEmpty ? store : CachingStorage(store: store, tiers: tiers, isImmutable: StorageLayout.isImmutable)
}

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case json, text
}

private let loggingBootstrapped = Mutex(false)

/// Sets how every logger of this process writes (once: swift-log allows one bootstrap).
func bootstrapLogging(format: LogFormat, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
    let first = loggingBootstrapped.withLock { done in
        defer { done = true }
        return !done
    }
    guard first else { return }
    LoggingSystem.bootstrap(
        { label, provider in
            switch format {
            case .json:
                var handler = JSONLogHandler(label: label, metadataProvider: provider)
                handler.logLevel = level
                return handler
            case .text:
                var handler = StreamLogHandler.standardError(label: label, metadataProvider: provider)
                handler.logLevel = level
                return handler
            }
        }, metadataProvider: metadataProvider)
}
