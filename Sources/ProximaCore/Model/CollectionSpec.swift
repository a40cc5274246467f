/// What a caller asks for when creating a collection, in any transport's
/// terms once translated: REST's JSON body, gRPC's `CollectionConfig`.
/// `CollectionConfig(spec:id:now:)` validates it.
public struct CollectionSpec: Sendable, Equatable {
    public var name: String
    public var dimension: Int
    public var distanceMetric: DistanceMetric
    public var indexingAlgorithm: CollectionConfig.IndexingAlgorithm
    public var filterableFields: [CollectionConfig.FilterableField]
    public var description: String?
    public var tags: [String]
    public var owner: String?
    /// Tunables by name (`CollectionConfig.knownSettings`).
    public var settings: [String: JSONValue]

    public init(
        name: String, dimension: Int, distanceMetric: DistanceMetric = .cosine,
        indexingAlgorithm: CollectionConfig.IndexingAlgorithm = .hnsw, filterableFields: [CollectionConfig.FilterableField] = [],
        description: String? = nil, tags: [String] = [], owner: String? = nil, settings: [String: JSONValue] = [:]
    ) {
        self.name = name
        self.dimension = dimension
        self.distanceMetric = distanceMetric
        self.indexingAlgorithm = indexingAlgorithm
        self.filterableFields = filterableFields
        self.description = description
        self.tags = tags
        self.owner = owner
        self.settings = settings
    }
}

/// A change to a collection's mutable fields. Each field is left alone when
/// nil; `.some(nil)` clears an optional one.
public struct CollectionPatch: Sendable, Equatable {
    public var description: String??
    public var tags: [String]?
    public var owner: String??
    /// Merged into the settings; a nil value removes the key.
    public var settings: [String: JSONValue?]?
    /// Added to the filterable fields (an existing name must keep its type).
    public var addFilterableFields: [CollectionConfig.FilterableField]?

    public init(
        description: String?? = nil, tags: [String]? = nil, owner: String?? = nil, settings: [String: JSONValue?]? = nil,
        addFilterableFields: [CollectionConfig.FilterableField]? = nil
    ) {
        self.description = description
        self.tags = tags
        self.owner = owner
        self.settings = settings
        self.addFilterableFields = addFilterableFields
    }
}

extension CollectionConfig {
    /// A new collection from a validated spec; every rule broken is a 400.
    public init(spec: CollectionSpec, id: String, now: Int64) throws(ProximaError) {
        try Validation.collectionName(spec.name)
        guard spec.dimension >= 1, spec.dimension <= Self.maxDimension else {
            throw ProximaError(.invalidConfig, "'dimension' must be an integer from 1 to \(Self.maxDimension)")
        }
        self.init(
            id: id, name: spec.name, dimension: spec.dimension, distanceMetric: spec.distanceMetric,
            indexingAlgorithm: spec.indexingAlgorithm, createdAt: now, updatedAt: now)
        filterableFields = try Self.validated(fields: spec.filterableFields)
        try apply(CollectionPatch(
            description: .some(spec.description), tags: spec.tags, owner: .some(spec.owner),
            settings: spec.settings.mapValues { $0 }))
    }

    /// The collection after `patch`, with `updatedAt` set to `now`.
    public func applying(_ patch: CollectionPatch, now: Int64) throws(ProximaError) -> CollectionConfig {
        var config = self
        if let added = patch.addFilterableFields {
            for field in try Self.validated(fields: added) {
                if let existing = config.filterableFields.first(where: { $0.name == field.name }) {
                    guard existing.type == field.type else {
                        throw ProximaError(.invalidConfig, "filterable field '\(field.name)' already has type \(existing.type.rawValue)")
                    }
                } else {
                    config.filterableFields.append(field)
                }
            }
        }
        try config.apply(patch)
        config.updatedAt = now
        return config
    }

    public static let maxFilterableFields = 256

    private mutating func apply(_ patch: CollectionPatch) throws(ProximaError) {
        if let d = patch.description {
            guard (d?.utf8.count ?? 0) <= 4096 else { throw ProximaError(.invalidConfig, "'description' must be a string of at most 4096 bytes") }
            description = d
        }
        if let t = patch.tags {
            guard t.count <= 64, t.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 128 }) else {
                throw ProximaError(.invalidConfig, "'tags' must be an array of at most 64 non-empty strings of at most 128 bytes")
            }
            tags = t
        }
        if let o = patch.owner {
            guard (o?.utf8.count ?? 0) <= 256 else { throw ProximaError(.invalidConfig, "'owner' must be a string of at most 256 bytes") }
            owner = o
        }
        for (key, value) in (patch.settings ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let kind = Self.knownSettings[key] else {
                throw ProximaError(.invalidConfig, "unknown config key '\(key)' (known: \(Self.knownSettings.keys.sorted().joined(separator: ", ")))")
            }
            guard let value, !value.isNull else { settings[key] = nil; continue }
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

    private static func validated(fields: [FilterableField]) throws(ProximaError) -> [FilterableField] {
        guard fields.count <= maxFilterableFields else {
            throw ProximaError(.invalidConfig, "'filterable_fields' must be an array of at most \(maxFilterableFields) fields")
        }
        var names = Set<String>()
        for field in fields {
            try Validation.metadataKey(field.name, code: .invalidConfig)
            guard names.insert(field.name).inserted else {
                throw ProximaError(.invalidConfig, "filterable field '\(field.name)' is listed twice")
            }
        }
        return fields
    }
}
