/// Input rules shared by every transport (REST, gRPC, CLI): names, ids,
/// vectors and metadata. Each failure is a 400 with a stable code.
public enum Validation {
    public static let maxIdBytes = 256
    public static let maxMetadataBytes = 64 * 1024
    public static let maxMetadataKeyBytes = 256

    public static func collectionName(_ name: String) throws(ProximaError) {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), bytes.allSatisfy(isNameByte) else {
            throw ProximaError(.invalidName, "collection names are 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")
        }
    }

    public static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    public static func vectorId(_ id: String) throws(ProximaError) {
        let count = id.utf8.count
        guard count >= 1, count <= maxIdBytes else {
            throw ProximaError(.invalidId, "vector ids are 1-\(maxIdBytes) bytes of UTF-8")
        }
        guard !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ProximaError(.invalidId, "vector ids may not contain control characters")
        }
    }

    public static func metadataKey(_ key: String, code: ProximaError.Code = .invalidMetadata) throws(ProximaError) {
        guard !key.isEmpty, key.utf8.count <= maxMetadataKeyBytes, !key.hasPrefix("$"),
            !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ProximaError(code, "metadata keys are 1-\(maxMetadataKeyBytes) bytes, without control characters, not starting with '$'")
        }
    }

    /// A JSON array as float32s: every item a number within float32's range.
    /// The collection's rules (dimension, metric domain) are `vector(_:config:)`'s.
    public static func floats(_ json: JSONValue) throws(ProximaError) -> [Float] {
        guard case .array(let items) = json else {
            throw ProximaError(.invalidVector, "a vector is an array of numbers, not \(json.typeName)")
        }
        var out = [Float](repeating: 0, count: items.count)
        for (i, item) in items.enumerated() {
            guard let d = item.number else {
                throw ProximaError(.invalidVector, "vector component \(i) is \(item.typeName), not a number")
            }
            let f = Float(d)
            guard f.isFinite else { throw ProximaError(.invalidVector, "vector component \(i) is out of float32 range") }
            out[i] = f
        }
        return out
    }

    /// Checks a vector against its collection: dimension, finite components, the metric's domain.
    public static func vector(_ v: [Float], config: CollectionConfig) throws(ProximaError) {
        guard v.count == config.dimension else {
            throw ProximaError(.dimensionMismatch, "expected \(config.dimension) dimensions, got \(v.count)")
        }
        guard v.allSatisfy(\.isFinite) else { throw ProximaError(.invalidVector, "vector components must be finite") }
        try vectorDomain(v, metric: config.distanceMetric)
    }

    /// What the metric needs beyond finite components (checked by `vector(_:config:)`).
    static func vectorDomain(_ v: [Float], metric: DistanceMetric) throws(ProximaError) {
        switch metric {
        case .cosine:
            guard v.contains(where: { $0 != 0 }) else {
                throw ProximaError(.invalidVector, "a zero vector has no direction: cosine distance is undefined")
            }
        case .hamming, .jaccard:
            guard v.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                throw ProximaError(.invalidVector, "\(metric.rawValue) vectors are binary: every component must be 0 or 1")
            }
        default:
            break
        }
    }

    /// Checks metadata: keys, encoded size, and the declared types of filterable fields.
    public static func metadata(_ o: [String: JSONValue], config: CollectionConfig) throws(ProximaError) {
        for key in o.keys { try metadataKey(key) }
        let size = JSONWriter.encode(.object(o)).count
        guard size <= maxMetadataBytes else {
            throw ProximaError(.invalidMetadata, "metadata is \(size) bytes; the limit is \(maxMetadataBytes)")
        }
        for field in config.filterableFields {
            if let v = o[field.name], !field.type.accepts(v) {
                throw ProximaError(.invalidMetadata, "metadata field '\(field.name)' must be of type \(field.type.rawValue), not \(v.typeName)")
            }
        }
    }

    /// A JSON metadata value as an object (null is "no metadata").
    public static func metadataObject(_ json: JSONValue) throws(ProximaError) -> [String: JSONValue] {
        switch json {
        case .null: return [:]
        case .object(let o): return o
        default: throw ProximaError(.invalidMetadata, "metadata must be a JSON object, not \(json.typeName)")
        }
    }

    /// `expires_at`: Unix seconds (integer) or an RFC 3339 string; returns microseconds.
    public static func expiresAt(_ json: JSONValue) throws(ProximaError) -> Int64? {
        switch json {
        case .null: return nil
        case .int(let seconds):
            guard seconds >= 0, seconds < 253_402_300_800 else { throw ProximaError(.invalidRequest, "'expires_at' is out of range") }
            return seconds * 1_000_000
        case .string(let s):
            guard let micros = Timestamp.parseRFC3339(s) else {
                throw ProximaError(.invalidRequest, "'expires_at' must be Unix seconds or an RFC 3339 time")
            }
            return micros
        default:
            throw ProximaError(.invalidRequest, "'expires_at' must be Unix seconds (integer) or an RFC 3339 string")
        }
    }
}
