import Logging
import ProximaCloud
import ProximaCore
import ProximaFormat

/// One collection inside one process: its materialised state, kept current
/// from the WAL in the object store, and the group commit of its writes.
///
/// Writes queue here; one commit loop at a time takes every queued intent
/// whose ids do not overlap, resolves them against the caught-up state, and
/// publishes them as a single WAL object with a create-only put at the next
/// sequence. Losing that race to another process means: read what it wrote,
/// resolve again, try the next sequence. A write is acknowledged only after
/// its object exists.
actor CollectionHandle {
    let config: CollectionConfig
    let storage: any CloudStorage
    let layout: StorageLayout
    let logger: Logger
    private(set) var state: CollectionState
    private var queue: [Pending] = []
    private var committing = false

    private struct Pending {
        var intent: WriteIntent
        var continuation: CheckedContinuation<WriteOutcome, any Error>
    }

    /// Upper bound on entries grouped into one WAL object.
    static let maxEntriesPerCommit = 50_000

    init(config: CollectionConfig, storage: any CloudStorage, layout: StorageLayout, logger: Logger) {
        self.config = config
        self.storage = storage
        self.layout = layout
        self.logger = logger
        self.state = CollectionState(dimension: config.dimension, metric: config.distanceMetric)
    }

    // MARK: reads

    /// Applies every WAL object after the applied sequence. Probes the next
    /// key first, so an up-to-date handle pays one small request.
    func catchUp() async throws {
        let next = state.appliedSequence + 1
        do {
            _ = try await storage.head(layout.walKey(config.id, sequence: next))
        } catch let e as StorageError where e.kind == .notFound {
            return
        }
        let after = layout.walKey(config.id, sequence: state.appliedSequence)
        for object in try await storage.listAll(prefix: layout.walPrefix(config.id), startAfter: after) {
            guard let seq = StorageLayout.sequence(fromKey: object.key) else { continue }
            if seq <= state.appliedSequence { continue }
            guard seq == state.appliedSequence + 1 else {
                throw ProximaError(.storageCorrupted, "WAL of '\(config.name)' has a gap before sequence \(seq)")
            }
            let bytes = try await storage.get(object.key).bytes
            let entries: [WALEntry]
            do {
                entries = try WALCodec.decode(bytes)
            } catch {
                throw ProximaError(.storageCorrupted, "WAL object \(seq) of '\(config.name)' is unreadable: \(error)")
            }
            // Another caller may have applied it while we awaited the read.
            if seq == state.appliedSequence + 1 { state.apply(entries, sequence: seq) }
        }
    }

    func read<T: Sendable>(_ body: (CollectionState) throws -> T) async throws -> T {
        try await catchUp()
        return try body(state)
    }

    // MARK: writes

    func write(_ intent: WriteIntent) async throws -> WriteOutcome {
        try await withCheckedThrowingContinuation { continuation in
            queue.append(Pending(intent: intent, continuation: continuation))
            if !committing {
                committing = true
                Task { await self.commitLoop() }
            }
        }
    }

    private func commitLoop() async {
        while !queue.isEmpty {
            var group: [Pending] = []
            var deferred: [Pending] = []
            var claimed = Set<String>()
            var groupHasFilterDelete = false
            var entryCount = 0
            for pending in queue {
                // Ids touched twice in one object would share a version: the second waits for the next object.
                // A delete by filter touches ids unknown until resolved, so it commits alone.
                let ids = pending.intent.declaredIds
                let overlaps = groupHasFilterDelete || (ids.map { !claimed.isDisjoint(with: $0) } ?? !group.isEmpty)
                if overlaps || entryCount >= Self.maxEntriesPerCommit {
                    deferred.append(pending)
                    continue
                }
                group.append(pending)
                if let ids { claimed.formUnion(ids) } else { groupHasFilterDelete = true }
                if case .insert(let records, _) = pending.intent { entryCount += records.count } else { entryCount += 1 }
            }
            queue = deferred
            await commit(group)
        }
        committing = false
    }

    private func commit(_ group: [Pending]) async {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await catchUp()
            } catch {
                for p in group { p.continuation.resume(throwing: Self.mapStorage(error)) }
                return
            }
            let now = Timestamp.nowMicros()
            let sequence = state.appliedSequence + 1
            var entries: [WALEntry] = []
            var outcomes: [(Int, Result<WriteOutcome, ProximaError>)] = []
            var touched = Set<String>()
            for (i, p) in group.enumerated() {
                do throws(ProximaError) {
                    let resolved = try p.intent.resolve(
                        against: state, collectionId: config.id, defaultTTL: config.defaultTTLMicros, now: now,
                        makeId: Self.makeId)
                    if !touched.isDisjoint(with: resolved.touchedIds) {
                        // Only generated ids or filters can collide here; keep versions unique.
                        throw ProximaError(.conflict, "concurrent writes to the same ids; try again")
                    }
                    touched.formUnion(resolved.touchedIds)
                    entries.append(contentsOf: resolved.entries)
                    outcomes.append((i, .success(resolved.outcome)))
                } catch {
                    outcomes.append((i, .failure(error)))
                }
            }
            if entries.isEmpty {
                for (i, r) in outcomes { group[i].continuation.resume(with: r.mapError { $0 as any Error }) }
                return
            }
            for j in entries.indices {
                entries[j].sequence = sequence
                entries[j].entryId = "\(sequence)-\(j)"
                entries[j].record.version = sequence
            }
            var sync = [UInt8](repeating: 0, count: 16)
            for j in 0..<16 { sync[j] = UInt8.random(in: 0...255) }
            let bytes = WALCodec.encode(entries, sync: sync)
            do {
                try await storage.put(layout.walKey(config.id, sequence: sequence), bytes, condition: .createOnly)
            } catch let e as StorageError where e.kind == .preconditionFailed && attempt < 1000 {
                continue  // another writer took this sequence: catch up and resolve again
            } catch {
                for p in group { p.continuation.resume(throwing: Self.mapStorage(error)) }
                return
            }
            state.apply(entries, sequence: sequence)
            for (i, r) in outcomes {
                group[i].continuation.resume(with: r.map { outcome in
                    var o = outcome
                    if var rec = o.record { rec.version = sequence; o.record = rec }
                    return o
                }.mapError { $0 as any Error })
            }
            return
        }
    }

    static func makeId() -> String {
        var g = SystemRandomNumberGenerator()
        var b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        let hex = b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
    }

    static func mapStorage(_ error: any Error) -> any Error {
        if error is ProximaError { return error }
        if let e = error as? StorageError {
            switch e.kind {
            case .notFound: return ProximaError(.collectionNotFound, "the collection's data is gone (deleted concurrently?)")
            default: return ProximaError(.storageUnavailable, "object store: \(e.kind.rawValue)")
            }
        }
        return ProximaError(.internalError, "\(error)")
    }
}

extension CollectionHandle {
    /// Takes over another handle's materialised state (same collection, newer config).
    func adopt(_ other: CollectionHandle) async {
        let s = await other.state
        if s.appliedSequence > state.appliedSequence { state = s }
    }
}
