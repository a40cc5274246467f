import Foundation
import Synchronization

/// Counters exported at `/metrics` in Prometheus text format.
public final class APIMetrics: Sendable {
    private struct Key: Hashable { var method: String, route: String, status: Int }
    private struct State {
        var requests: [Key: Int] = [:]
        var durationSum: [String: Double] = [:]
        var durationCount: [String: Int] = [:]
        var authFailures: [String: Int] = [:]
        var rateLimited: [String: Int] = [:]
        var vectorsWritten = 0
        var queries = 0
    }

    private let state = Mutex(State())
    private let started = ContinuousClock.now

    public init() {}

    /// Seconds since this process started serving.
    public var uptimeSeconds: Double {
        let d = ContinuousClock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func recordRequest(method: String, route: String, status: Int, seconds: Double) {
        state.withLock {
            $0.requests[Key(method: method, route: route, status: status), default: 0] += 1
            $0.durationSum[route, default: 0] += seconds
            $0.durationCount[route, default: 0] += 1
        }
    }

    func recordAuthFailure(reason: String) { state.withLock { $0.authFailures[reason, default: 0] += 1 } }
    func recordRateLimited(reason: String) { state.withLock { $0.rateLimited[reason, default: 0] += 1 } }

    func recordWrite(vectors: Int) { state.withLock { $0.vectorsWritten += vectors } }
    func recordQueries(_ n: Int) { state.withLock { $0.queries += n } }

    /// The counters in Prometheus text format (version 0.0.4).
    public func render() -> String {
        let s = state.withLock { $0 }
        func esc(_ v: String) -> String { v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
        var out = "# HELP proximadb_http_requests_total HTTP requests by method, route and status.\n"
        out += "# TYPE proximadb_http_requests_total counter\n"
        for (k, v) in s.requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out += "proximadb_http_requests_total{method=\"\(k.method)\",route=\"\(esc(k.route))\",status=\"\(k.status)\"} \(v)\n"
        }
        out += "# HELP proximadb_http_request_duration_seconds Time spent answering requests, by route.\n"
        out += "# TYPE proximadb_http_request_duration_seconds summary\n"
        for route in s.durationSum.keys.sorted() {
            out += "proximadb_http_request_duration_seconds_sum{route=\"\(esc(route))\"} \(s.durationSum[route]!)\n"
            out += "proximadb_http_request_duration_seconds_count{route=\"\(esc(route))\"} \(s.durationCount[route]!)\n"
        }
        out += "# HELP proximadb_auth_failures_total Requests refused for their credential, by reason.\n"
        out += "# TYPE proximadb_auth_failures_total counter\n"
        for (reason, n) in s.authFailures.sorted(by: { $0.key < $1.key }) { out += "proximadb_auth_failures_total{reason=\"\(reason)\"} \(n)\n" }
        out += "# HELP proximadb_rate_limited_total Requests refused by a rate limit, by the limit that refused them.\n"
        out += "# TYPE proximadb_rate_limited_total counter\n"
        for (reason, n) in s.rateLimited.sorted(by: { $0.key < $1.key }) { out += "proximadb_rate_limited_total{reason=\"\(reason)\"} \(n)\n" }
        out += "# HELP proximadb_vectors_written_total Vectors acknowledged by write requests.\n"
        out += "# TYPE proximadb_vectors_written_total counter\nproximadb_vectors_written_total \(s.vectorsWritten)\n"
        out += "# HELP proximadb_queries_total Search queries answered.\n"
        out += "# TYPE proximadb_queries_total counter\nproximadb_queries_total \(s.queries)\n"
        out += "# HELP proximadb_uptime_seconds Seconds since the server started.\n"
        out += "# TYPE proximadb_uptime_seconds gauge\nproximadb_uptime_seconds \(uptimeSeconds)\n"
        return out
    }
}
