import Logging
import ProximaCloud
import ProximaCore
import ProximaFormat

/// What one sweep found and queued.
public struct SweepReport: Sendable, Equatable {
    public var tenants = 0
    public var collections = 0
    public var queued: [JobKind: Int] = [:]

    public var json: JSONValue {
        [
            "tenants": .int(Int64(tenants)), "collections": .int(Int64(collections)),
            "queued": .object(Dictionary(uniqueKeysWithValues: JobKind.allCases.map { ($0.rawValue, .int(Int64(queued[$0] ?? 0))) })),
        ]
    }
}

/// Finds the maintenance that is due on every collection and queues it. A
/// long-running `serve` notices due work as writes arrive; in the serverless
/// shape nothing is awake between requests, so a scheduled event runs this.
///
/// Due means: WAL not yet in a segment (flush: a collection that stopped
/// receiving writes below its flush threshold would otherwise keep its tail in
/// the WAL for ever), small segments to merge or expired records to drop
/// (compaction), and replaced objects, old manifests or old job results to
/// delete (garbage collection). It reads only listings and the newest
/// manifest of each collection; queuing a job twice is harmless.
struct Sweep: Sendable {
    let storage: any CloudStorage
    let settings: MaintenanceSettings
    let logger: Logger

    func run(now: Int64, send: (JobMessage) async throws -> Void) async throws -> SweepReport {
        var report = SweepReport()
        for tenant in try await tenants() {
            report.tenants += 1
            let layout = StorageLayout(tenant: tenant.name)
            for config in try await CollectionCatalog(storage: storage, layout: layout).list() {
                report.collections += 1
                for kind in try await due(config, layout: layout, now: now) {
                    try await send(JobMessage(kind: kind, tenant: tenant.name, collectionId: config.id, collection: config.name, jobId: JobMessage.newJobId(now: now)))
                    report.queued[kind, default: 0] += 1
                }
            }
        }
        return report
    }

    /// Tenants with at least one catalog entry (`catalog/{tenant}/{name}.json`).
    func tenants() async throws -> [Tenant] {
        var names = Set<String>()
        for object in try await storage.listAll(prefix: "catalog/") {
            let parts = object.key.split(separator: "/")
            if parts.count == 3 { names.insert(String(parts[1])) }
        }
        return names.sorted().compactMap { try? Tenant($0) }
    }

    func due(_ config: CollectionConfig, layout: StorageLayout, now: Int64) async throws -> [JobKind] {
        let maintenance = Maintenance(storage: storage, layout: layout, config: config, settings: settings, logger: logger)
        let latest = try await maintenance.manifests.latest()
        // The oldest WAL object: past the manifest, everything after it is unflushed;
        // covered by it, it is garbage (and unflushed WAL may still follow).
        let walPrefix = layout.walPrefix(config.id)
        let oldest = try await storage.list(prefix: walPrefix, startAfter: nil, limit: 1).objects.first
            .flatMap { StorageLayout.sequence(fromKey: $0.key) }
        let coveredWAL = oldest.map { $0 <= latest.walThrough } ?? false
        var unflushed = oldest.map { $0 > latest.walThrough } ?? false
        if coveredWAL {
            let after = try await storage.list(prefix: walPrefix, startAfter: layout.walKey(config.id, sequence: latest.walThrough), limit: 1)
            unflushed = !after.objects.isEmpty
        }
        var kinds: [JobKind] = []
        if unflushed { kinds.append(.flush) }
        if maintenance.needsCompaction(latest, now: now) { kinds.append(.compact) }
        if coveredWAL {
            kinds.append(.gc)
        } else if try await hasOtherGarbage(config, layout: layout) {
            kinds.append(.gc)
        }
        return kinds
    }

    /// Whether garbage collection could find anything besides covered WAL: a
    /// manifest older than the newest, or job results.
    func hasOtherGarbage(_ config: CollectionConfig, layout: StorageLayout) async throws -> Bool {
        let manifests = try await storage.list(prefix: layout.manifestPrefix(config.id), startAfter: nil, limit: 2)
        if manifests.objects.count > 1 { return true }
        return try await !storage.list(prefix: layout.jobsPrefix(config.id), startAfter: nil, limit: 1).objects.isEmpty
    }
}
