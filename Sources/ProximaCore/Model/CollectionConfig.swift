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
        "max_wal_size_bytes": .integer, "max_unindexed_bytes": .integer, "min_files_for_compaction": .integer, "max_files_per_compaction": .integer,
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
}
