import ProximaCloud
import ProximaCore
import ProximaFormat

/// Writing and reading one segment's data file, with its checksum.
struct SegmentIO: Sendable {
    let storage: any CloudStorage
    let layout: StorageLayout
    let config: CollectionConfig
    /// Segments with fewer live rows get no index: scanning them is as fast.
    var indexMinRows = MaintenanceSettings().indexMinRows

    /// Segment ids start with their creation time, so garbage collection can
    /// tell a fresh segment (a job may be about to publish it) from an orphan.
    static func newSegmentId(now: Int64) -> String {
        StorageLayout.pad(now) + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    static func createdAt(segmentId: String) -> Int64? { Int64(segmentId.prefix(20)) }

    /// `keeping`: what this segment's index keeps of an input's (see `SegmentIndex.build`).
    func write(_ rows: [SegmentRow], jobId: String, now: Int64, keeping kept: SegmentIndex.Kept? = nil) async throws -> Manifest.Segment {
        let id = Self.newSegmentId(now: now)
        let config = config
        // The file's order (live rows first, as `SegmentCodec` writes them): index nodes name rows by position.
        let rows = rows.filter { !$0.deleted } + rows.filter(\.deleted)
        let minRows = indexMinRows
        // The index builds while the data file is encoded and stored: the build keeps most cores
        // busy, but not all of them all the time, and the put is I/O (`bench/maintenance`).
        // A graph comes with its cold route (an IVF file over the same nodes), for readers under a memory budget.
        async let built = ComputeQueue.inBackground {
            SegmentIndex.build(config: config, rows: rows, minRows: minRows, keeping: kept).map { index in
                (index.kind, index.encode(), index.route(config: config, rows: rows)?.encode())
            }
        }
        let bytes = try await ComputeQueue.inBackground {
            try SegmentCodec.encode(
                rows, dimension: config.dimension, fields: config.filterableFields,
                info: ["collection_id": .string(config.id), "segment_id": .string(id), "job_id": .string(jobId)])
        }
        try await storage.put(layout.segmentDataKey(config.id, segment: id), bytes, condition: .createOnly)
        let rowsOffset = try? SegmentCodec.rowColumnsOffset(ParquetFile(bytes: bytes))
        var minV = Int64.max, maxV = Int64.min
        var earliest: Int64?
        var tombstones = 0
        for r in rows {
            minV = min(minV, r.record.version)
            maxV = max(maxV, r.record.version)
            if r.deleted { tombstones += 1 }
            if let e = r.record.expiresAt, !r.deleted { earliest = min(earliest ?? e, e) }
        }
        var indexFile: Manifest.IndexFile?
        var routeFile: Manifest.IndexFile?
        if let (kind, encoded, route) = await built {
            try await storage.put(layout.segmentIndexKey(config.id, segment: id, kind: kind.rawValue), encoded, condition: .createOnly)
            indexFile = Manifest.IndexFile(kind: kind.rawValue, bytes: encoded.count, crc32c: CRC32C.checksum(encoded))
            if let route {
                let routeKind = SegmentIndex.Kind.ivf.rawValue
                try await storage.put(layout.segmentIndexKey(config.id, segment: id, kind: routeKind), route, condition: .createOnly)
                routeFile = Manifest.IndexFile(kind: routeKind, bytes: route.count, crc32c: CRC32C.checksum(route))
            }
        }
        return Manifest.Segment(
            id: id, rows: rows.count, tombstones: tombstones, bytes: bytes.count, crc32c: CRC32C.checksum(bytes),
            minVersion: rows.isEmpty ? 0 : minV, maxVersion: rows.isEmpty ? 0 : maxV, earliestExpiry: earliest, index: indexFile,
            rowsOffset: rowsOffset, route: routeFile)
    }

    /// The segment's index file, verified against its manifest entry; nil
    /// when it has none. Opening it takes the segment's rows (its vectors are there).
    func readIndexFile(_ segment: Manifest.Segment) async throws -> [UInt8]? {
        guard let file = segment.index else { return nil }
        let bytes: [UInt8]
        do {
            bytes = try await storage.get(layout.segmentIndexKey(config.id, segment: segment.id, kind: file.kind)).bytes
        } catch let e as StorageError where e.kind == .notFound {
            throw Missing(segment: segment.id)
        }
        guard bytes.count == file.bytes, CRC32C.checksum(bytes) == file.crc32c else {
            throw ProximaError(.storageCorrupted, "index of segment \(segment.id) of '\(config.name)' is damaged (checksum mismatch)")
        }
        return bytes
    }

    /// A segment a manifest names is gone: collected because newer manifests
    /// replaced it (the reader was slower than the grace period), or lost.
    struct Missing: Error {
        var segment: String
    }

    /// The segment's rows, verified against the checksum its manifest entry records.
    /// `inBackground`: for maintenance, decoded at a lower priority (see `ComputeQueue`).
    func read(_ segment: Manifest.Segment, inBackground: Bool = false) async throws -> [SegmentRow] {
        let key = layout.segmentDataKey(config.id, segment: segment.id)
        let bytes: [UInt8]
        do {
            bytes = try await storage.get(key).bytes
        } catch let e as StorageError where e.kind == .notFound {
            throw Missing(segment: segment.id)
        }
        do {
            let decode = { @Sendable in try SegmentCodec.decode(bytes, checksum: segment.crc32c) }
            let decoded = try await inBackground ? ComputeQueue.inBackground(decode) : ComputeQueue.run(decode)
            guard decoded.rows.count == segment.rows else { throw FormatError("\(decoded.rows.count) rows, manifest says \(segment.rows)") }
            return decoded.rows
        } catch {
            throw ProximaError(.storageCorrupted, "segment \(segment.id) of '\(config.name)' is damaged: \(error)")
        }
    }

    func delete(_ segment: Manifest.Segment) async {
        try? await storage.delete(layout.segmentDataKey(config.id, segment: segment.id))
        for file in [segment.index, segment.route].compactMap(\.self) {
            try? await storage.delete(layout.segmentIndexKey(config.id, segment: segment.id, kind: file.kind))
        }
    }
}
