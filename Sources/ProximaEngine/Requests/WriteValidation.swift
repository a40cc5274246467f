import ProximaCore

extension WriteIntent {
    /// The rules every write meets before it reaches the WAL, whichever
    /// transport decoded it: batch limits, ids, vectors and metadata against
    /// the collection. Conflicts with stored records are checked at commit.
    func validate(_ config: CollectionConfig, limits: RequestLimits) throws(ProximaError) {
        switch self {
        case .insert(let records, _):
            guard !records.isEmpty else { throw ProximaError(.invalidRequest, "'vectors' is empty") }
            guard records.count <= limits.maxBatchVectors else {
                throw ProximaError(.batchTooLarge, "at most \(limits.maxBatchVectors) vectors per request; got \(records.count)")
            }
            for (i, r) in records.enumerated() {
                do throws(ProximaError) {
                    if let id = r.id { try Validation.vectorId(id) }
                    try Validation.vector(r.vector, config: config)
                    try Validation.metadata(r.metadata, config: config)
                } catch {
                    throw ProximaError(error.code, "vectors[\(i)]: \(error.message)")
                }
            }
        case .update(let id, let vector, let metadata, let expiry):
            try Validation.vectorId(id)
            if vector == nil, metadata == nil, case .keep = expiry {
                throw ProximaError(.invalidRequest, "send at least one of vector, metadata, expires_at")
            }
            if let vector { try Validation.vector(vector, config: config) }
            if let metadata { try Validation.metadata(metadata, config: config) }
        case .delete(let ids, _):
            guard !ids.isEmpty, ids.count <= limits.maxBatchVectors else {
                throw ProximaError(.invalidRequest, "'ids' must be a non-empty array of at most \(limits.maxBatchVectors) ids")
            }
            for id in ids { try Validation.vectorId(id) }
        case .deleteMatching(let filter):
            guard !filter.isTrivial else {
                throw ProximaError(.invalidFilter, "an empty filter would delete everything; delete the collection instead")
            }
        }
    }
}
