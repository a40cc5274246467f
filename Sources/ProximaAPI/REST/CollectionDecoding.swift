import ProximaCore

/// Collection bodies (create, PATCH) into the engine's typed requests. Only
/// shapes are checked here; the rules (ranges, names, known settings) are the
/// engine's, so every transport shares them.
extension RequestDecoder {
    func collectionSpec(_ json: JSONValue) throws(ProximaError) -> CollectionSpec {
        let o = try Self.object(
            json,
            allowed: ["name", "dimension", "distance_metric", "indexing_algorithm", "filterable_fields", "description", "tags", "owner", "config"])
        guard let nameValue = o["name"] else { throw ProximaError(.invalidName, "'name' is required") }
        guard case .string(let name) = nameValue else { throw ProximaError(.invalidName, "'name' must be a string") }
        try Validation.collectionName(name)
        guard let dimValue = o["dimension"] else { throw ProximaError(.invalidConfig, "'dimension' is required") }
        guard case .int(let dimension) = dimValue, let dim = Int(exactly: dimension), dim >= 1, dim <= CollectionConfig.maxDimension else {
            throw ProximaError(.invalidConfig, "'dimension' must be an integer from 1 to \(CollectionConfig.maxDimension)")
        }
        var spec = CollectionSpec(name: name, dimension: dim)
        if let m = o["distance_metric"], !m.isNull {
            guard let s = m.string, let metric = DistanceMetric(parsing: s) else {
                throw ProximaError(
                    .invalidConfig, "'distance_metric' must be one of \(DistanceMetric.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            spec.distanceMetric = metric
        }
        if let a = o["indexing_algorithm"], !a.isNull {
            typealias Algorithm = CollectionConfig.IndexingAlgorithm
            guard let s = a.string, let algorithm = Algorithm(rawValue: s.lowercased()) else {
                throw ProximaError(
                    .invalidConfig, "'indexing_algorithm' must be one of \(Algorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            spec.indexingAlgorithm = algorithm
        }
        if let f = o["filterable_fields"], !f.isNull { spec.filterableFields = try Self.filterableFields(f) }
        let mutable = try Self.mutableFields(o)
        spec.description = mutable.description ?? nil
        spec.tags = mutable.tags ?? []
        spec.owner = mutable.owner ?? nil
        spec.settings = (mutable.settings ?? [:]).compactMapValues { $0 }
        return spec
    }

    /// PATCH: description, tags, owner, config (merged; null removes a key), filterable_fields (added).
    func collectionPatch(_ json: JSONValue) throws(ProximaError) -> CollectionPatch {
        guard case .object(let o) = json else { throw ProximaError(.invalidRequest, "the body must be a JSON object") }
        let allowed: Set<String> = ["description", "tags", "owner", "config", "filterable_fields"]
        if let bad = o.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ProximaError(.invalidRequest, "'\(bad)' cannot be changed (mutable: \(allowed.sorted().joined(separator: ", ")))")
        }
        var patch = try Self.mutableFields(o)
        if let f = o["filterable_fields"] { patch.addFilterableFields = try Self.filterableFields(f) }
        return patch
    }

    private static func mutableFields(_ o: [String: JSONValue]) throws(ProximaError) -> CollectionPatch {
        var patch = CollectionPatch()
        if let d = o["description"] {
            switch d {
            case .null: patch.description = .some(nil)
            case .string(let s): patch.description = s
            default: throw ProximaError(.invalidConfig, "'description' must be a string of at most 4096 bytes")
            }
        }
        if let t = o["tags"] {
            guard case .array(let items) = t, case let strings = items.compactMap(\.string), strings.count == items.count else {
                throw ProximaError(.invalidConfig, "'tags' must be an array of at most 64 non-empty strings of at most 128 bytes")
            }
            patch.tags = strings
        }
        if let ow = o["owner"] {
            switch ow {
            case .null: patch.owner = .some(nil)
            case .string(let s): patch.owner = s
            default: throw ProximaError(.invalidConfig, "'owner' must be a string of at most 256 bytes")
            }
        }
        if let c = o["config"] {
            guard case .object(let entries) = c else { throw ProximaError(.invalidConfig, "'config' must be an object") }
            patch.settings = entries.mapValues { $0.isNull ? nil : $0 }
        }
        return patch
    }

    private static func filterableFields(_ json: JSONValue) throws(ProximaError) -> [CollectionConfig.FilterableField] {
        guard case .array(let items) = json, items.count <= CollectionConfig.maxFilterableFields else {
            throw ProximaError(.invalidConfig, "'filterable_fields' must be an array of at most \(CollectionConfig.maxFilterableFields) fields")
        }
        return try items.map { item throws(ProximaError) in
            switch item {
            case .string(let name): return CollectionConfig.FilterableField(name: name, type: .string)
            case .object(let o):
                guard let name = o["name"]?.string else { throw ProximaError(.invalidConfig, "a filterable field needs a 'name'") }
                guard o.keys.allSatisfy({ $0 == "name" || $0 == "type" }) else {
                    throw ProximaError(.invalidConfig, "a filterable field has only 'name' and 'type'")
                }
                typealias FieldType = CollectionConfig.FieldType
                guard let type = FieldType(rawValue: o["type"].map { $0.string ?? "" } ?? "string") else {
                    throw ProximaError(.invalidConfig, "filterable field type must be one of \(FieldType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return CollectionConfig.FilterableField(name: name, type: type)
            default:
                throw ProximaError(.invalidConfig, "a filterable field is a name or {name, type}")
            }
        }
    }
}
