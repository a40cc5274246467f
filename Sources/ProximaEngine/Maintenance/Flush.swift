import ProximaCloud
import ProximaCore
import ProximaFormat

extension Maintenance {
    /// Turns the WAL after the newest manifest into one segment and publishes
    /// the next manifest. Safe to run twice or concurrently: the manifest chain
    /// admits one winner, and a loser deletes what it wrote.
    public func flush(jobId: String) async throws -> JobReport {
        let started = ContinuousClock.now
        var base: Manifest
        var wal: [WALObject]
        var attempt = 0
        while true {
            base = try await manifests.latest()
            do {
                wal = try await unflushedWAL(after: base.walThrough)
                break
            } catch let e as StorageError where e.kind == .notFound && attempt < 10 {
                // Listed, then gone: another flush covered it and garbage collection (with a grace
                // period shorter than this read) removed it. Start again from the newer manifest.
                attempt += 1
            }
        }
        guard let last = wal.last else {
            return JobReport(jobId: jobId, kind: .flush, status: .noop, manifestVersion: base.version, details: ["entries": 0])
        }
        // Latest entry per id across the range (ids are unique inside one WAL object).
        var latest: [String: WALEntry] = [:]
        var entryCount = 0
        var walBytes = 0
        for object in wal {
            walBytes += object.bytes
            for e in object.entries {
                latest[e.record.id] = e
                entryCount += 1
            }
        }
        let now = settings.clock.nowMicros()
        var rows: [SegmentRow] = []
        rows.reserveCapacity(latest.count)
        for e in latest.values {
            var r = e.record
            r.version = e.sequence
            // An expired record is written as a tombstone: it must still hide older versions.
            if e.operation == .delete || r.isExpired(at: now) {
                rows.append(.tombstone(of: r))
            } else {
                rows.append(SegmentRow(record: r, deleted: false))
            }
        }
        rows.sort { $0.record.id.utf8.lexicographicallyPrecedes($1.record.id.utf8) }
        let segment = try await segments.write(rows, jobId: jobId, now: now)
        let details: [String: JSONValue] = [
            "wal_from": .int(wal[0].sequence), "wal_through": .int(last.sequence), "wal_objects": .int(Int64(wal.count)),
            "wal_bytes": .int(Int64(walBytes)), "entries": .int(Int64(entryCount)), "rows": .int(Int64(rows.count)),
            "tombstones": .int(Int64(segment.tombstones)), "segment": .string(segment.id), "segment_bytes": .int(Int64(segment.bytes)),
        ]
        while true {
            var next = base
            next.version = base.version + 1
            next.walThrough = last.sequence
            next.createdAt = settings.clock.nowMicros()
            next.segments.append(segment)
            var d = details
            d["duration_ms"] = .int(Self.milliseconds(since: started))
            next.job = Manifest.Job(id: jobId, kind: "flush", details: d)
            if try await publish(next) {
                return JobReport(jobId: jobId, kind: .flush, status: .done, manifestVersion: next.version, details: d)
            }
            guard let newer = try await manifests.latest(after: base.version) else { continue }
            // A compaction moved on meanwhile: our segment still belongs at the end.
            if newer.walThrough == base.walThrough {
                base = newer
                continue
            }
            // Another flusher covered (some of) this range: discard ours.
            await segments.delete(segment)
            return JobReport(jobId: jobId, kind: .flush, status: .superseded, manifestVersion: newer.version, details: details)
        }
    }

    struct WALObject {
        var sequence: Int64
        var bytes: Int
        var entries: [WALEntry]
    }

    /// The contiguous WAL objects after `sequence`, up to `maxFlushBytes`.
    func unflushedWAL(after sequence: Int64) async throws -> [WALObject] {
        let listed = try await storage.listAll(
            prefix: layout.walPrefix(config.id), startAfter: layout.walKey(config.id, sequence: sequence))
        var out: [WALObject] = []
        var total = 0
        var expected = sequence + 1
        for info in listed {
            guard let seq = StorageLayout.sequence(fromKey: info.key) else { continue }
            guard seq == expected, total < settings.maxFlushBytes || out.isEmpty else { break }
            let bytes = try await storage.get(info.key).bytes
            let entries: [WALEntry]
            do {
                entries = try await ComputeQueue.inBackground { try WALCodec.decode(bytes) }
            } catch {
                throw ProximaError(.storageCorrupted, "WAL object \(seq) of '\(config.name)' is unreadable: \(error)")
            }
            out.append(WALObject(sequence: seq, bytes: bytes.count, entries: entries))
            total += bytes.count
            expected += 1
        }
        return out
    }
}
