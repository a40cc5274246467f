import Foundation
import ProximaCore
import ProximaEngine

/// The seed's protobuf messages to and from the shapes REST already
/// validates: a gRPC request becomes the JSON body the REST route would take
/// (so both transports share one decoder, one set of rules and error codes),
/// and engine answers become messages.
enum GRPCMessages {
    // MARK: requests

    /// `CollectionConfig` as the body of `POST /collections`.
    static func collectionSpecJSON(_ c: Proximadb_CollectionConfig) throws(ProximaError) -> JSONValue {
        var o: [String: JSONValue] = ["name": .string(c.name), "dimension": .int(Int64(c.dimension))]
        var settings = try jsonValues(c.indexingConfig, field: "indexing_config")
        // Spec fields the seed's message has no place for travel in indexing_config.
        for key in ["distance_metric", "description", "tags", "owner"] {
            if let v = settings.removeValue(forKey: key) { o[key] = v }
        }
        switch c.distanceMetric {
        case .unspecified: break
        case .cosine: o["distance_metric"] = "cosine"
        case .euclidean: o["distance_metric"] = "euclidean"
        case .dotProduct: o["distance_metric"] = "dot_product"
        case .hamming: o["distance_metric"] = "hamming"
        case .UNRECOGNIZED(let n): throw ProximaError(.invalidConfig, "distance_metric \(n) is not a DistanceMetric")
        }
        switch c.indexingAlgorithm {
        case .unspecified: break
        case .hnsw: o["indexing_algorithm"] = "hnsw"
        case .ivf: o["indexing_algorithm"] = "ivf"
        case .pq: o["indexing_algorithm"] = "pq"
        case .flat: o["indexing_algorithm"] = "flat"
        case .annoy: throw ProximaError(.invalidConfig, "ANNOY is not offered: use HNSW, IVF, PQ or FLAT")
        case .UNRECOGNIZED(let n): throw ProximaError(.invalidConfig, "indexing_algorithm \(n) is not an IndexingAlgorithm")
        }
        if case .UNRECOGNIZED(let n) = c.storageEngine { throw ProximaError(.invalidConfig, "storage_engine \(n) is not a StorageEngine") }
        let fields = try filterableFieldsJSON(c)
        if !fields.isEmpty { o["filterable_fields"] = .array(fields) }
        if !settings.isEmpty { o["config"] = .object(settings) }
        return .object(o)
    }

    /// `CollectionConfig` as the body of `PATCH /collections/{name}`: its settings and added fields.
    static func collectionPatchJSON(_ c: Proximadb_CollectionConfig) throws(ProximaError) -> JSONValue {
        var o: [String: JSONValue] = [:]
        var settings = try jsonValues(c.indexingConfig, field: "indexing_config")
        for key in ["description", "tags", "owner"] {
            if let v = settings.removeValue(forKey: key) { o[key] = v }
        }
        if !settings.isEmpty { o["config"] = .object(settings) }
        let fields = try filterableFieldsJSON(c)
        if !fields.isEmpty { o["filterable_fields"] = .array(fields) }
        return .object(o)
    }

    private static func filterableFieldsJSON(_ c: Proximadb_CollectionConfig) throws(ProximaError) -> [JSONValue] {
        var fields: [JSONValue] = c.filterableMetadataFields.map { ["name": .string($0), "type": "string"] }
        for column in c.filterableColumns {
            let type: String
            switch column.dataType {
            case .filterableString: type = "string"
            case .filterableInteger: type = "integer"
            case .filterableFloat: type = "float"
            case .filterableBoolean: type = "boolean"
            case .filterableDatetime: type = "timestamp"
            case .unspecified, .filterableArrayString, .filterableArrayInteger, .filterableArrayFloat, .UNRECOGNIZED:
                throw ProximaError(
                    .invalidConfig, "filterable column '\(column.name)': data_type \(column.dataType.rawValue) is not offered "
                        + "(STRING, INTEGER, FLOAT, BOOLEAN or DATETIME)")
            }
            fields.append(["name": .string(column.name), "type": .string(type)])
        }
        return fields
    }

    /// A `map<string, string>` whose values are JSON texts, as a JSON object.
    static func jsonValues(_ map: [String: String], field: String) throws(ProximaError) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (key, text) in map {
            guard let value = try? JSONParser.parse(text) else {
                throw ProximaError(.invalidRequest, "\(field)['\(key)'] is not JSON text (a string value is written \"\\\"drama\\\"\")")
            }
            out[key] = value
        }
        return out
    }

    /// A query's filter: `filter_json` (REST's language) or the equality map, not both.
    static func filterJSON(equality: [String: String], json: String, field: String) throws(ProximaError) -> JSONValue? {
        switch (equality.isEmpty, json.isEmpty) {
        case (true, true): return nil
        case (false, true): return .object(try jsonValues(equality, field: field))
        case (true, false):
            guard let value = try? JSONParser.parse(json) else { throw ProximaError(.invalidFilter, "filter_json is not JSON") }
            return value
        case (false, false): throw ProximaError(.invalidFilter, "send \(field) or filter_json, not both")
        }
    }

    static func floats(_ values: [Float]) -> JSONValue { .array(values.map { .float($0) }) }

    // MARK: answers

    static func collection(_ config: CollectionConfig, stats: OpenCollection.Stats? = nil) -> Proximadb_Collection {
        var c = Proximadb_Collection()
        c.id = config.name
        c.createdAt = config.createdAt
        c.updatedAt = config.updatedAt
        c.config.name = config.name
        c.config.dimension = Int32(config.dimension)
        switch config.distanceMetric {
        case .cosine: c.config.distanceMetric = .cosine
        case .euclidean: c.config.distanceMetric = .euclidean
        case .dotProduct: c.config.distanceMetric = .dotProduct
        case .hamming: c.config.distanceMetric = .hamming
        case .manhattan, .jaccard: c.config.distanceMetric = .unspecified  // named in indexing_config below
        }
        switch config.indexingAlgorithm {
        case .flat: c.config.indexingAlgorithm = .flat
        case .hnsw: c.config.indexingAlgorithm = .hnsw
        case .ivf: c.config.indexingAlgorithm = .ivf
        case .pq: c.config.indexingAlgorithm = .pq
        }
        c.config.storageEngine = .viper
        var settings = config.settings.mapValues { JSONWriter.string($0) }
        settings["distance_metric"] = JSONWriter.string(.string(config.distanceMetric.rawValue))
        if let d = config.description { settings["description"] = JSONWriter.string(.string(d)) }
        if !config.tags.isEmpty { settings["tags"] = JSONWriter.string(.array(config.tags.map { .string($0) })) }
        if let o = config.owner { settings["owner"] = JSONWriter.string(.string(o)) }
        c.config.indexingConfig = settings
        c.config.filterableColumns = config.filterableFields.map { f in
            var spec = Proximadb_FilterableColumnSpec()
            spec.name = f.name
            spec.indexed = true
            spec.supportsRange = f.type != .boolean && f.type != .string
            switch f.type {
            case .string: spec.dataType = .filterableString
            case .integer: spec.dataType = .filterableInteger
            case .float: spec.dataType = .filterableFloat
            case .boolean: spec.dataType = .filterableBoolean
            case .timestamp: spec.dataType = .filterableDatetime
            }
            return spec
        }
        if let stats {
            c.stats.vectorCount = Int64(stats.vectorCount)
            c.stats.dataSizeBytes = Int64(stats.vectorBytes)
        }
        return c
    }

    static func metadata(_ m: [String: JSONValue]) -> [String: String] { m.mapValues { JSONWriter.string($0) } }

    static func results(_ hits: [SearchHit], include: Proximadb_IncludeFields?) -> Proximadb_SearchResultsCompact {
        var compact = Proximadb_SearchResultsCompact()
        compact.totalFound = Int64(hits.count)
        compact.results = hits.enumerated().map { rank, hit in
            var r = Proximadb_SearchResult()
            r.id = hit.record.id
            r.score = hit.score
            r.distance = hit.distance
            r.rank = Int32(rank + 1)
            if include?.vector == true { r.vector = hit.record.vector }
            if include?.metadata ?? true { r.metadata = metadata(hit.record.metadata) }
            return r
        }
        return compact
    }

    static func micros(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
    }
}
