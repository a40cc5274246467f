import ProximaCore
import ProximaFormat

/// A validated write, before it is given a WAL sequence. Resolving it against
/// the current state (conflicts, partial updates, delete-by-filter) happens at
/// commit time, inside the group, so the WAL holds only complete records.
public enum WriteIntent: Sendable {
    public struct NewRecord: Sendable {
        public var id: String?
        public var vector: [Float]
        public var metadata: [String: JSONValue]
        public var expiresAt: Int64?
        public init(id: String?, vector: [Float], metadata: [String: JSONValue] = [:], expiresAt: Int64? = nil) {
            self.id = id
            self.vector = vector
            self.metadata = metadata
            self.expiresAt = expiresAt
        }
    }

    /// `expires_at` in a partial update: left alone, or set (nil clears it).
    public enum ExpiryChange: Sendable { case keep, set(Int64?) }

    case insert([NewRecord], upsert: Bool)
    case update(id: String, vector: [Float]?, metadata: [String: JSONValue]?, expiresAt: ExpiryChange)
    case delete(ids: [String], requireExisting: Bool)
    case deleteMatching(Filter)
}

/// What a committed write did, for the API's answer.
public struct WriteOutcome: Sendable {
    public var ids: [String]
    public var count: Int
    public var record: VectorRecord?
}

/// The entries an intent turns into, given the state it commits on.
struct ResolvedWrite {
    var entries: [WALEntry]
    var outcome: WriteOutcome
    var touchedIds: Set<String>
}

extension WriteIntent {
    func resolve(
        against state: CollectionState, collectionId: String, defaultTTL: Int64?, now: Int64,
        keptVectors: [String: (version: Int64, vector: [Float])] = [:], makeId: () -> String
    ) throws(ProximaError) -> ResolvedWrite {
        func entry(_ op: WriteOperation, _ record: VectorRecord) -> WALEntry {
            WALEntry(entryId: "", collectionId: collectionId, operation: op, record: record, sequence: 0)
        }
        switch self {
        case .insert(let records, let upsert):
            var entries: [WALEntry] = []
            entries.reserveCapacity(records.count)
            var ids: [String] = []
            ids.reserveCapacity(records.count)
            var seen = Set<String>(minimumCapacity: records.count)
            for r in records {
                let id = r.id ?? makeId()
                guard seen.insert(id).inserted else { throw ProximaError(.duplicateId, "id '\(id)' appears twice in the batch") }
                if !upsert, state.contains(id, now: now) {
                    throw ProximaError(.vectorExists, "vector '\(id)' already exists; send upsert: true to replace it")
                }
                let expires = r.expiresAt ?? defaultTTL.map { now + $0 }
                entries.append(
                    entry(upsert ? .upsert : .insert, VectorRecord(id: id, vector: r.vector, metadata: r.metadata, timestamp: now, expiresAt: expires)))
                ids.append(id)
            }
            return ResolvedWrite(entries: entries, outcome: WriteOutcome(ids: ids, count: ids.count), touchedIds: seen)

        case .update(let id, let vector, let metadata, let expiry):
            guard var record = state.record(id, now: now) ?? vector.map({ VectorRecord(id: id, vector: $0) }) else {
                throw ProximaError(.vectorNotFound, "vector '\(id)' does not exist; send a vector to create it")
            }
            if let vector {
                record.vector = vector
            } else if record.vector.isEmpty {
                // The record lives in a cold segment: its vector was read before resolving, at this version.
                guard let kept = keptVectors[id], kept.version == record.version else {
                    throw ProximaError(.conflict, "vector '\(id)' changed while it was updated; try again")
                }
                record.vector = kept.vector
            }
            if let metadata { record.metadata = metadata }
            if case .set(let e) = expiry { record.expiresAt = e } else if record.version == 0 { record.expiresAt = defaultTTL.map { now + $0 } }
            record.timestamp = now
            return ResolvedWrite(
                entries: [entry(.update, record)], outcome: WriteOutcome(ids: [id], count: 1, record: record), touchedIds: [id])

        case .delete(let ids, let requireExisting):
            let existing = ids.filter { state.contains($0, now: now) }
            if requireExisting, existing.isEmpty, let first = ids.first {
                throw ProximaError(.vectorNotFound, "vector '\(first)' does not exist")
            }
            let unique = Array(Set(existing)).sorted()
            return ResolvedWrite(
                entries: unique.map { entry(.delete, VectorRecord(id: $0, vector: [], timestamp: now)) },
                outcome: WriteOutcome(ids: unique, count: unique.count), touchedIds: Set(ids))

        case .deleteMatching(let filter):
            let ids = state.ids(matching: filter, now: now)
            return ResolvedWrite(
                entries: ids.map { entry(.delete, VectorRecord(id: $0, vector: [], timestamp: now)) },
                outcome: WriteOutcome(ids: ids, count: ids.count), touchedIds: Set(ids))
        }
    }

    /// Ids this intent may touch, known before resolving (nil: unknown until resolved).
    var declaredIds: Set<String>? {
        switch self {
        case .insert(let records, _):
            let ids = records.compactMap(\.id)
            return Set(ids)
        case .update(let id, _, _, _): return [id]
        case .delete(let ids, _): return Set(ids)
        case .deleteMatching: return nil
        }
    }
}
