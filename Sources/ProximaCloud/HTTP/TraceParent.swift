import ProximaCore
import ServiceContextModule

/// A W3C Trace Context `traceparent` (`00-<trace id>-<parent id>-<flags>`):
/// taken from a request or started fresh, carried in the task's
/// `ServiceContext`, and sent on every call to a cloud service, so one trace
/// id ties a client's request to the object-store requests it caused.
public struct TraceParent: Sendable, Equatable {
    /// 32 lower-case hex digits, not all zero.
    public let traceId: String
    /// 16 lower-case hex digits: the span that made the call.
    public let spanId: String
    public let sampled: Bool

    /// Parses a `traceparent` header; nil when it is malformed (then a trace starts afresh).
    public init?(header: String) {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", Self.isHex(parts[0]),
            parts[1].count == 32, Self.isHex(parts[1]), parts[1] != String(repeating: "0", count: 32),
            parts[2].count == 16, Self.isHex(parts[2]), parts[2] != String(repeating: "0", count: 16),
            parts[3].count == 2, Self.isHex(parts[3]), parts[0] != "00" || parts.count == 4
        else { return nil }
        traceId = String(parts[1])
        spanId = String(parts[2])
        sampled = (UInt8(parts[3], radix: 16) ?? 0) & 1 == 1
    }

    init(traceId: String, spanId: String, sampled: Bool) {
        self.traceId = traceId
        self.spanId = spanId
        self.sampled = sampled
    }

    /// A new trace.
    public static func start() -> TraceParent { TraceParent(traceId: randomHex(16), spanId: randomHex(8), sampled: false) }

    /// The same trace, from a new span of ours.
    public func child() -> TraceParent { TraceParent(traceId: traceId, spanId: Self.randomHex(8), sampled: sampled) }

    public var header: String { "00-\(traceId)-\(spanId)-\(sampled ? "01" : "00")" }

    static func isHex(_ s: Substring) -> Bool {
        s.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    static func randomHex(_ bytes: Int) -> String { String(hex: (0..<bytes).map { _ in UInt8.random(in: 0...255) }) }
}

private enum TraceParentKey: ServiceContextKey {
    typealias Value = TraceParent
    static var nameOverride: String? { "traceparent" }
}

extension ServiceContext {
    /// The W3C trace this task works for.
    public var traceParent: TraceParent? {
        get { self[TraceParentKey.self] }
        set { self[TraceParentKey.self] = newValue }
    }
}
