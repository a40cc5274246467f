import CoreMetrics
import Foundation
import Prometheus
import ProximaCore
import Synchronization

/// The process's metrics registry, exported at `/metrics`. Code everywhere
/// records through swift-metrics (`Counter`, `Timer`, `Recorder`); this
/// bootstraps swift-metrics with swift-prometheus once per process so those
/// land here. Labels name routes, operations and outcomes, never keys,
/// tenants or collections.
public final class APIMetrics: Sendable {
    /// One registry per process: swift-metrics can be bootstrapped once.
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Seconds, from a millisecond to a minute: requests, store calls and jobs.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
            .seconds(30), .seconds(60),
        ]
        factory.defaultValueHistogramBuckets = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 100_000, 1_000_000]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    private let started = ContinuousClock.now

    public init() { _ = Self.registry }

    /// Seconds since this process started serving.
    public var uptimeSeconds: Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func recordRequest(method: String, route: String, status: Int, seconds: Double) {
        Counter(label: "proximadb_http_requests_total", dimensions: [("method", method), ("route", route), ("status", String(status))])
            .increment()
        CoreMetrics.Timer(label: "proximadb_http_request_duration_seconds", dimensions: [("route", route), ("status", String(status))])
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    func recordAuthFailure(reason: String) { Counter(label: "proximadb_auth_failures_total", dimensions: [("reason", reason)]).increment() }
    func recordRateLimited(reason: String) { Counter(label: "proximadb_rate_limited_total", dimensions: [("reason", reason)]).increment() }
    func recordBacklog(bytes: Int, oldestWrite: Int64?) {
        Gauge(label: "proximadb_unindexed_wal_bytes").record(bytes)
        let age = oldestWrite.map { max(0, Double(Timestamp.nowMicros() - $0) / 1e6) } ?? 0
        Gauge(label: "proximadb_oldest_unindexed_write_age_seconds").record(age)
    }

    func recordWrite(vectors: Int) { Counter(label: "proximadb_vectors_written_total").increment(by: vectors) }
    func recordQueries(_ n: Int) { Counter(label: "proximadb_queries_total").increment(by: n) }

    /// What each metric recorded through swift-metrics means: the registry
    /// writes no `# HELP` lines for them, so `render` adds these.
    static let help: [String: String] = [
        "proximadb_http_requests_total": "HTTP requests answered, by method, route and status.",
        "proximadb_http_request_duration_seconds": "Time spent answering HTTP requests, by route and status.",
        "proximadb_auth_failures_total": "Requests refused for their credential, by error code.",
        "proximadb_rate_limited_total": "Requests refused by a rate limit, by the limit (address, key).",
        "proximadb_vectors_written_total": "Vectors acknowledged by insert and update requests.",
        "proximadb_queries_total": "Search queries answered.",
        "proximadb_uptime_seconds": "Seconds since this process started serving.",
        "proximadb_resident_memory_bytes": "Resident memory of this process.",
        "proximadb_storage_operations_total": "Object-store operations, by operation and outcome.",
        "proximadb_storage_operation_duration_seconds": "Object-store operation latency, by operation.",
        "proximadb_wal_appends_total": "WAL objects written (one per group commit).",
        "proximadb_wal_append_records": "Records per WAL object written.",
        "proximadb_wal_append_bytes": "Bytes per WAL object written.",
        "proximadb_queue_jobs_total": "Flush, compaction and drop jobs run by workers in this process, by kind and outcome.",
        "proximadb_queue_job_duration_seconds": "Time jobs took in workers of this process, by kind.",
        "proximadb_queue_dead_letters_total": "Job messages moved to the dead-letter queue.",
        "proximadb_unindexed_wal_bytes": "WAL bytes no segment index covers yet, over the collections this process has open.",
        "proximadb_oldest_unindexed_write_age_seconds": "Age of the oldest write no segment index covers yet (0: none), over open collections.",
    ]

    /// Everything recorded, in Prometheus text format (version 0.0.4).
    public func render() -> String {
        Gauge(label: "proximadb_uptime_seconds").record(uptimeSeconds)
        Gauge(label: "proximadb_resident_memory_bytes").record(ProcessMemory.residentBytes())
        var buffer: [UInt8] = []
        Self.registry.emit(into: &buffer)
        var out = ""
        for line in String(decoding: buffer, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.split(separator: " ").dropFirst(2).first {
                out += "# HELP \(name) \(Self.help[String(name)] ?? name.replacingOccurrences(of: "_", with: " "))\n"
            }
            out += line + "\n"
        }
        while out.hasSuffix("\n\n") { out.removeLast() }
        return out
    }
}
