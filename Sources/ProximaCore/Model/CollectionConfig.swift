/// A collection's definition as the catalog stores it (the seed's `CollectionRecord`).
public struct CollectionConfig: Sendable, Equatable {
    public enum IndexingAlgorithm: String, Sendable, CaseIterable {
        case flat, hnsw, ivf, pq
    }

    public enum FieldType: String, Sendable, CaseIterable {
        case string, integer, float, boolean, timestamp

        /// Whether a metadata value fits the declared type (null always does: "no value").
        public func accepts(_ value: JSONValue) -> Bool {
            switch (self, value) {
            case (_, .null): true
            case (.string, .string), (.integer, .int), (.float, .int), (.float, .double), (.boolean, .bool): true
            case (.timestamp, .int): true
            case (.timestamp, .string(let s)): Timestamp.parseRFC3339(s) != nil
            default: false
            }
        }
    }

    public struct FilterableField: Sendable, Equatable {
        public var name: String
        public var type: FieldType
        public init(name: String, type: FieldType) {
            self.name = name
            self.type = type
        }
    }

    /// Tunables from the seed (WAL thresholds, compaction, index parameters).
    /// Unknown keys are rejected so a typo never passes silently.
    public static let knownSettings: [String: JSONValueKind] = [
        "max_wal_size_bytes": .integer, "min_files_for_compaction": .integer, "max_files_per_compaction": .integer,
        "target_file_size_mb": .integer, "default_ttl_seconds": .integer,
        "m": .integer, "ef_construction": .integer, "ef_search": .integer,
        "n_lists": .integer, "n_probes": .integer, "pq_subvectors": .integer, "quantization": .string,
    ]

    public enum JSONValueKind: Sendable { case integer, string }

    /// Codes an IVF index may keep in its posting lists (`binary` is RaBitQ).
    public static let quantizations = ["sq8", "pq", "binary", "flat"]

    public var id: String
    public var name: String
    public var dimension: Int
    public var distanceMetric: DistanceMetric
    public var indexingAlgorithm: IndexingAlgorithm
    public var filterableFields: [FilterableField]
    public var description: String?
    public var tags: [String]
    public var owner: String?
    public var settings: [String: JSONValue]
    public var createdAt: Int64
    public var updatedAt: Int64

    public static let maxDimension = 65_536

    public init(
        id: String, name: String, dimension: Int, distanceMetric: DistanceMetric = .cosine,
        indexingAlgorithm: IndexingAlgorithm = .hnsw, filterableFields: [FilterableField] = [],
        description: String? = nil, tags: [String] = [], owner: String? = nil,
        settings: [String: JSONValue] = [:], createdAt: Int64 = 0, updatedAt: Int64 = 0
    ) {
        self.id = id
        self.name = name
        self.dimension = dimension
        self.distanceMetric = distanceMetric
        self.indexingAlgorithm = indexingAlgorithm
        self.filterableFields = filterableFields
        self.description = description
        self.tags = tags
        self.owner = owner
        self.settings = settings
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public func setting(_ key: String) -> Int64? { settings[key]?.integer }

    public var defaultTTLMicros: Int64? { setting("default_ttl_seconds").map { $0 * 1_000_000 } }
}

// MARK: - JSON form (catalog objects and API answers share it)

extension CollectionConfig {
    public func toJSON() -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "name": .string(name), "dimension": .int(Int64(dimension)),
            "distance_metric": .string(distanceMetric.rawValue),
            "indexing_algorithm": .string(indexingAlgorithm.rawValue),
            "filterable_fields": .array(filterableFields.map { .object(["name": .string($0.name), "type": .string($0.type.rawValue)]) }),
            "tags": .array(tags.map { .string($0) }),
            "config": .object(settings),
            "created_at": .string(Timestamp.rfc3339(micros: createdAt)),
            "updated_at": .string(Timestamp.rfc3339(micros: updatedAt)),
            "created_at_us": .int(createdAt), "updated_at_us": .int(updatedAt),
        ]
        o["description"] = description.map { .string($0) } ?? .null
        o["owner"] = owner.map { .string($0) } ?? .null
        return .object(o)
    }

    /// Reads a stored catalog object (written by `toJSON`).
    public static func fromStored(_ json: JSONValue) throws(ProximaError) -> CollectionConfig {
        guard let id = json["id"]?.string, let name = json["name"]?.string,
            let dimension = json["dimension"]?.integer,
            let metric = json["distance_metric"]?.string.flatMap(DistanceMetric.init(parsing:)),
            let algorithm = json["indexing_algorithm"]?.string.flatMap(IndexingAlgorithm.init(rawValue:))
        else { throw ProximaError(.storageCorrupted, "catalog entry is malformed") }
        let fields = (json["filterable_fields"]?.array ?? []).compactMap { f -> FilterableField? in
            guard let n = f["name"]?.string, let t = f["type"]?.string.flatMap(FieldType.init(rawValue:)) else { return nil }
            return FilterableField(name: n, type: t)
        }
        return CollectionConfig(
            id: id, name: name, dimension: Int(dimension), distanceMetric: metric, indexingAlgorithm: algorithm,
            filterableFields: fields, description: json["description"]?.string,
            tags: (json["tags"]?.array ?? []).compactMap(\.string), owner: json["owner"]?.string,
            settings: json["config"]?.object ?? [:],
            createdAt: json["created_at_us"]?.integer ?? 0, updatedAt: json["updated_at_us"]?.integer ?? 0)
    }

    /// Builds a new collection from a create request body; throws 400s for anything off.
    public static func fromCreateRequest(_ body: JSONValue, id: String, now: Int64) throws(ProximaError) -> CollectionConfig {
        guard case .object(let o) = body else { throw ProximaError(.invalidRequest, "the body must be a JSON object") }
        let allowed: Set<String> = [
            "name", "dimension", "distance_metric", "indexing_algorithm", "filterable_fields", "description", "tags",
            "owner", "config",
        ]
        if let unknown = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ProximaError(.invalidRequest, "unknown field '\(unknown)'")
        }
        guard let nameValue = o["name"] else { throw ProximaError(.invalidName, "'name' is required") }
        guard case .string(let name) = nameValue else { throw ProximaError(.invalidName, "'name' must be a string") }
        try Validation.collectionName(name)
        guard let dimValue = o["dimension"] else { throw ProximaError(.invalidConfig, "'dimension' is required") }
        guard case .int(let dimension) = dimValue, dimension >= 1, dimension <= Int64(maxDimension) else {
            throw ProximaError(.invalidConfig, "'dimension' must be an integer from 1 to \(maxDimension)")
        }
        var config = CollectionConfig(id: id, name: name, dimension: Int(dimension), createdAt: now, updatedAt: now)
        if let m = o["distance_metric"], !m.isNull {
            guard let s = m.string, let metric = DistanceMetric(parsing: s) else {
                throw ProximaError(
                    .invalidConfig, "'distance_metric' must be one of \(DistanceMetric.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            config.distanceMetric = metric
        }
        if let a = o["indexing_algorithm"], !a.isNull {
            guard let s = a.string, let alg = IndexingAlgorithm(rawValue: s.lowercased()) else {
                throw ProximaError(
                    .invalidConfig, "'indexing_algorithm' must be one of \(IndexingAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            config.indexingAlgorithm = alg
        }
        if let f = o["filterable_fields"], !f.isNull { config.filterableFields = try parseFilterableFields(f) }
        try config.applyMutableFields(o)
        return config
    }

    /// PATCH: description, tags, owner, config (merged; null removes a key), filterable_fields (added).
    public mutating func applyPatch(_ body: JSONValue, now: Int64) throws(ProximaError) {
        guard case .object(let o) = body else { throw ProximaError(.invalidRequest, "the body must be a JSON object") }
        let allowed: Set<String> = ["description", "tags", "owner", "config", "filterable_fields"]
        if let bad = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ProximaError(.invalidRequest, "'\(bad)' cannot be changed (mutable: \(allowed.sorted().joined(separator: ", ")))")
        }
        if let f = o["filterable_fields"] {
            let added = try Self.parseFilterableFields(f)
            for field in added {
                if let existing = filterableFields.first(where: { $0.name == field.name }) {
                    guard existing.type == field.type else {
                        throw ProximaError(.invalidConfig, "filterable field '\(field.name)' already has type \(existing.type.rawValue)")
                    }
                } else {
                    filterableFields.append(field)
                }
            }
        }
        try applyMutableFields(o)
        updatedAt = now
    }

    private mutating func applyMutableFields(_ o: [String: JSONValue]) throws(ProximaError) {
        if let d = o["description"] {
            switch d {
            case .null: description = nil
            case .string(let s) where s.utf8.count <= 4096: description = s
            default: throw ProximaError(.invalidConfig, "'description' must be a string of at most 4096 bytes")
            }
        }
        if let t = o["tags"] {
            guard case .array(let items) = t, items.count <= 64,
                let strings = Optional(items.compactMap(\.string)), strings.count == items.count,
                strings.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 128 })
            else { throw ProximaError(.invalidConfig, "'tags' must be an array of at most 64 non-empty strings of at most 128 bytes") }
            tags = strings
        }
        if let ow = o["owner"] {
            switch ow {
            case .null: owner = nil
            case .string(let s) where s.utf8.count <= 256: owner = s
            default: throw ProximaError(.invalidConfig, "'owner' must be a string of at most 256 bytes")
            }
        }
        if let c = o["config"] {
            guard case .object(let entries) = c else { throw ProximaError(.invalidConfig, "'config' must be an object") }
            for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
                guard let kind = Self.knownSettings[key] else {
                    throw ProximaError(.invalidConfig, "unknown config key '\(key)' (known: \(Self.knownSettings.keys.sorted().joined(separator: ", ")))")
                }
                if value.isNull { settings[key] = nil; continue }
                switch kind {
                case .integer:
                    guard case .int(let i) = value, i >= 0 else { throw ProximaError(.invalidConfig, "config '\(key)' must be a non-negative integer") }
                    if key == "default_ttl_seconds", i == 0 { throw ProximaError(.invalidConfig, "config 'default_ttl_seconds' must be positive") }
                case .string:
                    guard let text = value.string else { throw ProximaError(.invalidConfig, "config '\(key)' must be a string") }
                    if key == "quantization", !Self.quantizations.contains(text) {
                        throw ProximaError(.invalidConfig, "config 'quantization' must be one of \(Self.quantizations.joined(separator: ", "))")
                    }
                }
                settings[key] = value
            }
        }
    }

    private static func parseFilterableFields(_ json: JSONValue) throws(ProximaError) -> [FilterableField] {
        guard case .array(let items) = json, items.count <= 256 else {
            throw ProximaError(.invalidConfig, "'filterable_fields' must be an array of at most 256 fields")
        }
        var fields: [FilterableField] = []
        for item in items {
            let field: FilterableField
            switch item {
            case .string(let name): field = FilterableField(name: name, type: .string)
            case .object(let o):
                guard let name = o["name"]?.string else { throw ProximaError(.invalidConfig, "a filterable field needs a 'name'") }
                guard o.keys.allSatisfy({ $0 == "name" || $0 == "type" }) else {
                    throw ProximaError(.invalidConfig, "a filterable field has only 'name' and 'type'")
                }
                guard let type = FieldType(rawValue: o["type"].map { $0.string ?? "" } ?? "string") else {
                    throw ProximaError(.invalidConfig, "filterable field type must be one of \(FieldType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                field = FilterableField(name: name, type: type)
            default:
                throw ProximaError(.invalidConfig, "a filterable field is a name or {name, type}")
            }
            try Validation.metadataKey(field.name, code: .invalidConfig)
            guard !fields.contains(where: { $0.name == field.name }) else {
                throw ProximaError(.invalidConfig, "filterable field '\(field.name)' is listed twice")
            }
            fields.append(field)
        }
        return fields
    }
}
