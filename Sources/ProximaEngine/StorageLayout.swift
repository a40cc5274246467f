import ProximaCore

/// Where each object lives in the bucket (ARCHITECTURE.md, "Objects in the bucket").
public struct StorageLayout: Sendable {
    public var tenant: String

    public init(tenant: String = "default") { self.tenant = tenant }

    public var catalogPrefix: String { "catalog/\(tenant)/" }
    public func catalogKey(_ name: String) -> String { "catalog/\(tenant)/\(name).json" }
    /// A copy of the collection's newest manifest, read beside its catalog entry (`ManifestHint`).
    public func manifestHintKey(_ name: String) -> String { "catalog/\(tenant)/\(name).manifest" }

    public func collectionPrefix(_ collectionId: String) -> String { "\(tenant)/\(collectionId)/" }
    public func walPrefix(_ collectionId: String) -> String { "\(tenant)/\(collectionId)/wal/" }
    public func manifestPrefix(_ collectionId: String) -> String { "\(tenant)/\(collectionId)/manifest/" }
    public func segmentsPrefix(_ collectionId: String) -> String { "\(tenant)/\(collectionId)/segments/" }
    public func jobsPrefix(_ collectionId: String) -> String { "\(tenant)/\(collectionId)/jobs/" }

    /// Sequence numbers are zero-padded so lexicographic listing is numeric order.
    public func walKey(_ collectionId: String, sequence: Int64) -> String {
        walPrefix(collectionId) + Self.pad(sequence)
    }

    public func manifestKey(_ collectionId: String, version: Int64) -> String {
        manifestPrefix(collectionId) + Self.pad(version)
    }

    /// A segment is a folder: its Parquet data file, later its index files.
    public func segmentDataKey(_ collectionId: String, segment: String) -> String {
        segmentsPrefix(collectionId) + segment + "/data.parquet"
    }

    /// A segment's ANN index, beside its data file.
    public func segmentIndexKey(_ collectionId: String, segment: String, kind: String) -> String {
        segmentsPrefix(collectionId) + segment + "/index." + kind
    }

    /// The outcome of one flush or compaction job, for `?wait=true`.
    public func jobKey(_ collectionId: String, job: String) -> String { jobsPrefix(collectionId) + job + ".json" }

    /// Objects that are written once and never change while they exist: WAL
    /// objects (sequence numbers claimed create-only), manifest versions
    /// (create-only, never reused) and segment files. Caches may keep them
    /// without revalidation; catalog entries and job results they may not.
    public static func isImmutable(_ key: String) -> Bool {
        // A key with "wal", "manifest" or "segments" between two slashes. Compared as bytes:
        // Foundation's `contains` (through CFString) was 7 % of a warm query's CPU.
        let parts = key.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        return parts.dropFirst().dropLast().contains { part in
            part.elementsEqual("wal".utf8) || part.elementsEqual("manifest".utf8) || part.elementsEqual("segments".utf8)
        }
    }

    public static func pad(_ sequence: Int64) -> String { String(zeroPadded: sequence, width: 20) }

    public static func sequence(fromKey key: String) -> Int64? {
        guard let last = key.split(separator: "/").last else { return nil }
        return Int64(last)
    }
}
