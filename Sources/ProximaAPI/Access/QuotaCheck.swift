import ProximaAuth
import ProximaCore
import ProximaEngine
import Synchronization

/// Per-tenant quotas on collections, vectors and stored bytes. Usage is
/// summed from the tenant's collections and kept for a few seconds (plus what
/// this process admitted since), so a check costs no request on most writes;
/// writers in other processes can overshoot a quota by what they write in
/// that window.
final class QuotaCheck: Sendable {
    struct Usage {
        var vectors: Int
        var bytes: Int
        var readAt: ContinuousClock.Instant
    }

    let engine: Engine
    let maxAge: Duration
    private let usage = Mutex<[Tenant: Usage]>([:])

    init(engine: Engine, maxAge: Duration = .seconds(5)) {
        self.engine = engine
        self.maxAge = maxAge
    }

    func admitCollection(_ who: Principal) async throws(ProximaError) {
        guard let max = who.quotas.maxCollections else { return }
        let count = try await engine.listCollections(tenant: who.tenant).count
        guard count < max else {
            throw ProximaError(.quotaExceeded, "tenant '\(who.tenant)' already holds \(count) collections, its quota")
        }
    }

    /// Refuses an insert that would take the tenant past its vector or byte quota.
    func admitWrite(_ who: Principal, _ write: WriteIntent) async throws(ProximaError) {
        guard who.quotas.maxVectors != nil || who.quotas.maxBytes != nil, case .insert(let records, _) = write, !records.isEmpty else { return }
        let adding = records.count, addingBytes = records.reduce(0) { $0 + $1.vector.count * 4 }
        let now = ContinuousClock.now
        var current = usage.withLock { $0[who.tenant] }
        if current == nil || now - current!.readAt > maxAge {
            var fresh = Usage(vectors: 0, bytes: 0, readAt: now)
            for config in try await engine.listCollections(tenant: who.tenant) {
                guard let path = try? CollectionPath(who.tenant, config.name),
                    let (_, stats) = try? await engine.describeCollection(path)
                else { continue }
                fresh.vectors += stats.vectorCount
                fresh.bytes += stats.vectorBytes
            }
            current = fresh
        }
        if let max = who.quotas.maxVectors, current!.vectors + adding > max {
            throw ProximaError(.quotaExceeded, "tenant '\(who.tenant)' would hold more than its quota of \(max) vectors")
        }
        if let max = who.quotas.maxBytes, current!.bytes + addingBytes > max {
            throw ProximaError(.quotaExceeded, "tenant '\(who.tenant)' would hold more than its quota of \(max) bytes of vectors")
        }
        current!.vectors += adding
        current!.bytes += addingBytes
        let admitted = current!
        usage.withLock { $0[who.tenant] = admitted }
    }

    /// Forgets a tenant's usage after it changed shape (a collection created or dropped).
    func changed(_ tenant: Tenant) { _ = usage.withLock { $0.removeValue(forKey: tenant) } }
}
