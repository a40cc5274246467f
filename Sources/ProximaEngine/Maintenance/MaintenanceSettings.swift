import ProximaCore

/// Thresholds for flush, compaction and garbage collection, and how long
/// cached catalog and manifest reads are trusted: engine-wide
/// defaults, overridden per collection by its settings (the seed's names);
/// and the wall clock that records, expiries and grace periods are read by.
public struct MaintenanceSettings: Sendable {
    /// Unflushed WAL bytes that trigger a flush (`max_wal_size_bytes`).
    public var flushThresholdBytes = 32 << 20
    /// Unflushed WAL whose oldest write is this old is flushed whatever its
    /// size, when this process next reads or writes the collection (nil: never).
    public var flushAfterMicros: Int64? = 30 * 1_000_000
    /// Unflushed WAL bytes past which writes are refused with 429
    /// `indexing_backlog` until flushes catch up (`max_unindexed_bytes`).
    public var maxUnindexedBytes = 256 << 20
    /// At most this much WAL goes into one flush job: a backlog is indexed
    /// in pieces, each searchable through its index as soon as it is built
    /// (one flush of a 256 MiB backlog took 80 s on 2 cores, and its writes
    /// were scanned exactly all that time); compaction merges the pieces.
    public var maxFlushBytes = 64 << 20
    public var minFilesForCompaction = 4
    public var maxFilesPerCompaction = 16
    /// Segments smaller than half of this are merged (`target_file_size_mb`).
    public var targetFileBytes = 256 << 20
    /// How long unreferenced objects stay readable for readers holding an older manifest.
    public var gcGraceMicros: Int64 = 600 * 1_000_000
    /// How old an unreferenced segment must be before it counts as an orphan:
    /// longer than any job runs between writing a segment and publishing it.
    public var orphanSegmentAgeMicros: Int64 = 3600 * 1_000_000
    /// Segments with fewer live rows get no ANN index (an exact scan of them is as fast).
    public var indexMinRows = 2_000
    /// How long a process trusts its last listing of a collection's manifests
    /// before listing again (also bounded by half the GC grace period, which
    /// is what makes skipping the listing safe): how soon a flush elsewhere
    /// shows up here as segments and indexes instead of WAL tail.
    public var manifestRecheck: Duration = .seconds(1)
    /// How stale an `eventual` read may be: it skips the WAL probe when the
    /// last catch-up is younger than this.
    public var eventualStaleness: Duration = .seconds(1)
    /// How long a reader trusts a collection's catalog entry (its config, and
    /// that it exists) before reading it again; writes always read it.
    public var catalogRecheck: Duration = .seconds(1)
    /// Resident memory to stay within while serving (nil: no bound). With a
    /// bound, segments with an IVF index are opened cold: their vectors and
    /// posting lists stay in the store (and the cache tiers) and queries read
    /// the ranges they need.
    public var memoryBudgetBytes: Int?
    /// The time of day for timestamps, TTL, job ids and grace periods (tests move it by hand).
    public var clock: any WallClock = SystemClock()

    public init() {}

    /// The collection's own values where it sets them.
    public func applying(_ config: CollectionConfig) -> MaintenanceSettings {
        var s = self
        if let v = config.setting("max_wal_size_bytes"), v > 0 { s.flushThresholdBytes = Int(v) }
        if let v = config.setting("max_unindexed_bytes"), v > 0 { s.maxUnindexedBytes = Int(v) }
        if let v = config.setting("min_files_for_compaction"), v > 1 { s.minFilesForCompaction = Int(v) }
        if let v = config.setting("max_files_per_compaction"), v > 1 { s.maxFilesPerCompaction = Int(v) }
        if let v = config.setting("target_file_size_mb"), v > 0 { s.targetFileBytes = Int(v) << 20 }
        return s
    }
}
