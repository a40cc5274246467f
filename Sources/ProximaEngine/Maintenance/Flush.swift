import ProximaCloud
import ProximaCore
import ProximaFormat

extension Maintenance {
    /// Turns the WAL after the newest manifest into one segment and publishes
    /// the next manifest. Safe to run twice or concurrently: the manifest chain
    /// admits one winner, and a loser deletes what it wrote.
    ///
    /// A flush asked for after a write covers it when it returns: one that
    /// another flusher overtook part-way (a flush the backlog queued, that
    /// read the WAL before this one did) flushes the rest again.
    public func flush(jobId: String) async throws -> JobReport {
        let started = ContinuousClock.now
        var rounds = 0
        while true {
            let (report, overtakenPartWay) = try await flushOnce(jobId: jobId, started: started)
            rounds += 1
            if !overtakenPartWay || rounds == 8 { return report }
        }
    }

    /// One flush of the WAL after the newest manifest; `overtakenPartWay`:
    /// another flush published first and covers only part of what this one read.
    private func flushOnce(jobId: String, started: ContinuousClock.Instant) async throws -> (JobReport, overtakenPartWay: Bool) {
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
            return (JobReport(jobId: jobId, kind: .flush, status: .noop, manifestVersion: base.version, details: ["entries": 0]), false)
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
            if try await publish(next, written: [segment]) {
                return (JobReport(jobId: jobId, kind: .flush, status: .done, manifestVersion: next.version, details: d), false)
            }
            guard let newer = try await manifests.latest(after: base.version) else { continue }
            // A compaction moved on meanwhile: our segment still belongs at the end.
            if newer.walThrough == base.walThrough {
                base = newer
                continue
            }
            // Another flusher covered (some of) this range: discard ours.
            await segments.delete(segment)
            return (JobReport(jobId: jobId, kind: .flush, status: .superseded, manifestVersion: newer.version, details: details),
                    newer.walThrough < last.sequence)
        }
    }

    struct WALObject {
        var sequence: Int64
        var bytes: Int
        var entries: [WALEntry]
    }

    /// The contiguous WAL objects after `sequence`, up to `maxFlushBytes`;
    /// read a few at a time (on an object store each read is a round trip,
    /// and a flush of small writes covers hundreds of objects).
    func unflushedWAL(after sequence: Int64) async throws -> [WALObject] {
        let listed = try await storage.listAll(
            prefix: layout.walPrefix(config.id), startAfter: layout.walKey(config.id, sequence: sequence))
        var wanted: [(key: String, sequence: Int64)] = []
        var total = 0
        for info in listed {
            guard let seq = StorageLayout.sequence(fromKey: info.key) else { continue }
            guard seq == sequence + 1 + Int64(wanted.count), total < settings.maxFlushBytes || wanted.isEmpty else { break }
            wanted.append((info.key, seq))
            total += info.size
        }
        let (storage, name) = (self.storage, config.name)
        var out = [WALObject?](repeating: nil, count: wanted.count)
        try await withThrowingTaskGroup(of: (Int, WALObject).self) { group in
            var next = 0
            func start() {
                guard next < wanted.count else { return }
                let (i, object) = (next, wanted[next])
                next += 1
                group.addTask {
                    let bytes = try await storage.get(object.key).bytes
                    do {
                        let entries = try await ComputeQueue.inBackground { try WALCodec.decode(bytes) }
                        return (i, WALObject(sequence: object.sequence, bytes: bytes.count, entries: entries))
                    } catch {
                        throw ProximaError(.storageCorrupted, "WAL object \(object.sequence) of '\(name)' is unreadable: \(error)")
                    }
                }
            }
            for _ in 0..<Self.walReadConcurrency { start() }
            for try await (i, object) in group {
                out[i] = object
                start()
            }
        }
        return out.compactMap(\.self)
    }

    /// WAL objects a flush reads at once.
    static let walReadConcurrency = 8
}
