import Foundation
import Logging
import ProximaCore
import Synchronization

/// One JSON object per line on standard error: `ts`, `level`, `logger`,
/// `msg`, then the metadata's keys. What log shippers (CloudWatch, Loki)
/// parse without a pattern. Callers never put secrets in metadata.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String

    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Lines from concurrent tasks must not interleave.
    private static let output = Mutex(())

    public func log(
        level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        var o: [String: JSONValue] = [:]
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { a, _ in a } }
        if let extra { all.merge(extra) { _, b in b } }
        for (k, v) in all { o[k] = Self.json(v) }
        o["ts"] = .string(Timestamp.rfc3339(micros: Timestamp.nowMicros()))
        o["level"] = .string(level.rawValue)
        o["logger"] = .string(label)
        o["msg"] = .string(message.description)
        var bytes = JSONWriter.encode(.object(o))
        bytes.append(UInt8(ascii: "\n"))
        Self.output.withLock { _ in FileHandle.standardError.write(Data(bytes)) }
    }

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c): (c as? Int).map { .int(Int64($0)) } ?? .string(c.description)
        case .array(let a): .array(a.map(json))
        case .dictionary(let d): .object(d.mapValues(json))
        }
    }
}
