import ArgumentParser
import Logging
import ProximaCloud
import ProximaEngine

/// Where flush/compaction jobs go and who runs them; shared by `serve` and `worker`.
struct BackgroundOptions: ParsableArguments {
    @Option(help: "Job queue: dir:///path, sqs://name, or 'inline' (no queue: run jobs in this process). Default: a directory queue beside local storage, else inline.")
    var queue: String?

    @Option(help: "Unflushed WAL (MiB) that triggers a flush, unless a collection sets max_wal_size_bytes.")
    var flushThresholdMb: Int = 32

    @Option(help: "Unflushed WAL (MiB) past which writes get 429 indexing_backlog, unless a collection sets max_unindexed_bytes.")
    var maxUnindexedMb: Int = 256

    @Option(help: "Seconds unreferenced objects stay readable before garbage collection deletes them.")
    var gcGraceSeconds: Int = 600

    @Option(help: "Deliveries of a job before it goes to the dead-letter queue.")
    var maxAttempts: Int = 5

    @Option(help: "Seconds a received job stays hidden from other workers (renewed while it runs).")
    var visibilityTimeout: Int = 120

    var settings: MaintenanceSettings {
        Self.settings(flushThresholdMb: flushThresholdMb, maxUnindexedMb: maxUnindexedMb, gcGraceSeconds: gcGraceSeconds)
    }

    /// The engine's settings from the numbers people give (flags, or a function's environment).
    static func settings(flushThresholdMb: Int, maxUnindexedMb: Int, gcGraceSeconds: Int) -> MaintenanceSettings {
        var s = MaintenanceSettings()
        s.flushThresholdBytes = max(1, flushThresholdMb) << 20
        s.maxUnindexedBytes = max(1, maxUnindexedMb) << 20
        s.gcGraceMicros = Int64(max(0, gcGraceSeconds)) * 1_000_000
        return s
    }

    /// The queue URL to use for `storage`, or nil for inline jobs.
    func queueURL(storage: String) -> String? {
        if let queue { return queue == "inline" ? nil : queue }
        if storage.hasPrefix("file://") { return "dir://" + storage.dropFirst("file://".count) + "/.queue/jobs" }
        return storage.contains("://") ? nil : "dir://" + storage + "/.queue/jobs"
    }

    func workers(storage: any CloudStorage, queues: (queue: any CloudQueue, deadLetter: any CloudQueue), logger: Logger) -> Worker {
        var w = Worker(storage: storage, queue: queues.queue, deadLetter: queues.deadLetter, settings: settings, logger: logger)
        w.maxAttempts = maxAttempts
        w.visibilityTimeoutSeconds = visibilityTimeout
        return w
    }
}
