import ProximaCore
import Synchronization

/// The API keys a handler checks credentials against: the store's set, read
/// again in the background once it is `refreshAfter` old and waited for once
/// it is `maxAge` old, so a new or revoked key takes effect within `maxAge`
/// plus one LIST. An idle process reads nothing; a busy one LISTs once per
/// `refreshAfter`. When the store cannot be read past `maxAge`, checks fail
/// closed (503) rather than trust a set that may miss a revocation.
public final class KeyRing: Sendable {
    public struct Snapshot: Sendable {
        /// By id.
        public var records: [String: APIKeyRecord]
        /// Once any key exists, revoked or not, every request needs a credential:
        /// revoking the last key must not open the server.
        public var anyExist: Bool { !records.isEmpty }
    }

    private struct State {
        var snapshot: Snapshot?
        var loadedAt: ContinuousClock.Instant?
        var refreshing: Task<Snapshot, any Error>?
        var lastForced: ContinuousClock.Instant?
    }

    public let store: KeyStore
    let refreshAfter: Duration
    let maxAge: Duration
    private let state = Mutex(State())

    public init(store: KeyStore, refreshAfter: Duration = .seconds(2), maxAge: Duration = .seconds(4)) {
        self.store = store
        self.refreshAfter = refreshAfter
        self.maxAge = maxAge
    }

    /// The current set, reading the store when it is too old.
    public func snapshot() async throws -> Snapshot {
        let now = ContinuousClock.now
        let (fresh, wait): (Snapshot?, Task<Snapshot, any Error>?) = state.withLock { s in
            if let snap = s.snapshot, let at = s.loadedAt, now - at < refreshAfter { return (snap, nil) }
            if s.refreshing == nil {
                let known = s.snapshot?.records ?? [:]
                s.refreshing = Task { [self] in
                    defer { state.withLock { $0.refreshing = nil } }
                    let records = try await store.load(known: known)
                    let snap = Snapshot(records: records)
                    state.withLock {
                        $0.snapshot = snap
                        $0.loadedAt = now
                    }
                    return snap
                }
            }
            if let snap = s.snapshot, let at = s.loadedAt, now - at < maxAge { return (snap, nil) }
            return (nil, s.refreshing)
        }
        if let fresh { return fresh }
        do {
            return try await wait!.value
        } catch {
            throw ProximaError(.storageUnavailable, "API keys cannot be read from the object store; retry later", retryAfterSeconds: 1)
        }
    }

    /// The set read again now, for a key id the current set lacks (a key made
    /// a moment ago works at once). At most once a second, so a flood of
    /// made-up keys costs at most one LIST a second.
    public func snapshot(missing id: String) async throws -> Snapshot {
        let current = try await snapshot()
        guard current.records[id] == nil else { return current }
        let now = ContinuousClock.now
        let due = state.withLock { s in
            if let last = s.lastForced, now - last < .seconds(1) { return false }
            s.lastForced = now
            s.loadedAt = nil
            return true
        }
        return due ? try await snapshot() : current
    }

    /// Drops the cached set so the next check reads the store (after this process changed it).
    public func invalidate() { state.withLock { $0.loadedAt = nil } }
}
