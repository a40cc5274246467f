import ProximaCloud
import ProximaCore
import ProximaFormat
import ProximaIndex

extension Maintenance {
    /// Which adjacent segments to merge: the longest run of small ones (at
    /// least `minFilesForCompaction`, at most `maxFilesPerCompaction`), or a
    /// segment holding expired records (TTL cleanup), or with `force` all of
    /// them whenever merging would change anything.
    func compactionRun(_ m: Manifest, force: Bool, now: Int64) -> Range<Int>? {
        let segs = m.segments
        if force {
            let wouldChange = segs.count > 1 || segs.contains { $0.tombstones > 0 || ($0.earliestExpiry ?? .max) <= now }
            return wouldChange ? 0..<segs.count : nil
        }
        let small = settings.targetFileBytes / 2
        var best: Range<Int>?
        var start = 0
        while start < segs.count {
            var end = start
            while end < segs.count && segs[end].bytes < small && end - start < settings.maxFilesPerCompaction { end += 1 }
            if end - start >= settings.minFilesForCompaction, (best?.count ?? 0) < end - start { best = start..<end }
            start = max(end, start + 1)
        }
        if let best { return best }
        // Expired records or a tombstone-heavy segment: rewrite it alone.
        if let i = segs.firstIndex(where: { ($0.earliestExpiry ?? .max) <= now || ($0.tombstones > 0 && $0.tombstones * 4 >= $0.rows && segs.count > 1) }) {
            return i..<(i + 1)
        }
        return nil
    }

    /// Merges a run of segments into new ones of about `targetFileBytes`,
    /// dropping superseded versions, expired records, and tombstones when
    /// nothing older remains for them to hide.
    public func compact(jobId: String, force: Bool) async throws -> JobReport {
        let started = ContinuousClock.now
        let kind: JobKind = force ? .compactAll : .compact
        var base = try await manifests.latest()
        let now = settings.clock.nowMicros()
        guard let run = compactionRun(base, force: force, now: now) else {
            return JobReport(jobId: jobId, kind: kind, status: .noop, manifestVersion: base.version, details: ["segments": .int(Int64(base.segments.count))])
        }
        let inputs = Array(base.segments[run])
        let includesOldest = run.lowerBound == 0
        var merged: [String: SegmentRow] = [:]
        var inputRows = 0
        // The biggest indexed input: its graph or centroids may be kept rather than rebuilt.
        let indexedInput = inputs.filter { $0.index != nil }.max { $0.rows < $1.rows }
        var indexedInputRows: [SegmentRow] = []
        // Inputs are read and decoded at once (decoding is a core's work each), merged in order.
        let read: [[SegmentRow]]
        do {
            read = try await withThrowingTaskGroup(of: (Int, [SegmentRow]).self) { group in
                for (i, segment) in inputs.enumerated() {
                    group.addTask { [segments] in (i, try await segments.read(segment, inBackground: true)) }
                }
                var out = [[SegmentRow]](repeating: [], count: inputs.count)
                for try await (i, rows) in group { out[i] = rows }
                return out
            }
        } catch is SegmentIO.Missing {
            // Another compactor replaced one and its garbage is already collected.
            let newer = try await manifests.latest(after: base.version)
            return JobReport(jobId: jobId, kind: kind, status: .superseded, manifestVersion: newer?.version ?? base.version, details: [:])
        }
        for (segment, rows) in zip(inputs, read) {
            if segment.id == indexedInput?.id { indexedInputRows = rows }
            for row in rows {
                merged[row.record.id] = row  // later segments hold later versions
                inputRows += 1
            }
        }
        var rows: [SegmentRow] = []
        rows.reserveCapacity(merged.count)
        var droppedTombstones = 0, expired = 0
        for var row in merged.values {
            if !row.deleted, row.record.isExpired(at: now) {
                expired += 1
                row = .tombstone(of: row.record)
            }
            if row.deleted && includesOldest {
                droppedTombstones += 1
                continue
            }
            rows.append(row)
        }
        rows.sort { $0.record.id.utf8.lexicographicallyPrecedes($1.record.id.utf8) }
        // Split into files of about the target size; ids are disjoint, so their order does not matter.
        let rowBytes = max(1, config.dimension * 4 + 64)
        let perFile = max(1, settings.targetFileBytes / rowBytes)
        var kept: SegmentIndex.Kept?
        if let indexedInput {
            do {
                kept = try await keptIndex(of: indexedInput, rows: indexedInputRows, into: &rows, perFile: perFile)
            } catch is SegmentIO.Missing {
                let newer = try await manifests.latest(after: base.version)
                return JobReport(jobId: jobId, kind: kind, status: .superseded, manifestVersion: newer?.version ?? base.version, details: [:])
            }
        }
        var outputs: [Manifest.Segment] = []
        var i = 0
        while i < rows.count {
            var chunk = Array(rows[i..<min(rows.count, i + perFile)])
            // The first file holds a kept graph's rows: in id order again, as every file is.
            if i == 0, kept != nil { chunk.sort { $0.record.id.utf8.lexicographicallyPrecedes($1.record.id.utf8) } }
            outputs.append(try await segments.write(chunk, jobId: jobId, now: now, keeping: i == 0 ? kept : nil))
            i += perFile
        }
        let inputIds = inputs.map(\.id)
        var details: [String: JSONValue] = [
            "input_segments": .int(Int64(inputs.count)), "input_rows": .int(Int64(inputRows)),
            "graph_nodes_kept": .int(Int64(kept?.keptNodes ?? 0)),
            "input_bytes": .int(Int64(inputs.reduce(0) { $0 + $1.bytes })), "output_segments": .int(Int64(outputs.count)),
            "output_rows": .int(Int64(rows.count)), "output_bytes": .int(Int64(outputs.reduce(0) { $0 + $1.bytes })),
            "expired": .int(Int64(expired)), "tombstones_dropped": .int(Int64(droppedTombstones)),
        ]
        while true {
            guard let at = base.segments.firstIndex(where: { $0.id == inputIds[0] }),
                at + inputIds.count <= base.segments.count,
                Array(base.segments[at..<(at + inputIds.count)].map(\.id)) == inputIds,
                (at == 0) == includesOldest
            else {
                // Another compactor merged some of these first.
                for o in outputs { await segments.delete(o) }
                return JobReport(jobId: jobId, kind: kind, status: .superseded, manifestVersion: base.version, details: details)
            }
            var next = base
            next.version = base.version + 1
            next.createdAt = settings.clock.nowMicros()
            next.segments.replaceSubrange(at..<(at + inputIds.count), with: outputs)
            details["duration_ms"] = .int(Self.milliseconds(since: started))
            next.job = Manifest.Job(id: jobId, kind: kind.rawValue, details: details)
            if try await publish(next, written: outputs) {
                return JobReport(jobId: jobId, kind: kind, status: .done, manifestVersion: next.version, details: details)
            }
            // Lost the race: rebase onto the newer version if our inputs are still there.
            base = try await manifests.latest(after: base.version) ?? base
        }
    }
}

extension Maintenance {
    /// A graph kept through compaction needs at least this share of its nodes
    /// alive in the output: each dropped node leaves holes its neighbours'
    /// repair only partly fills (measured: a tenth dropped keeps recall within
    /// 0.01 of a fresh build, a third dropped loses 0.08).
    static let keptGraphMinShare = 0.9

    /// What the output keeps of the input's index. A graph, if enough of its
    /// nodes survive: `rows` (the output) is reordered so those nodes' rows
    /// fall in its first file, and the graph is returned with the nodes kept
    /// and their rows' ids. IVF centroids, with the imbalance past
    /// which they are trained again (a quarter worse than the input's lists).
    func keptIndex(of segment: Manifest.Segment, rows inputRows: [SegmentRow], into rows: inout [SegmentRow], perFile: Int) async throws
        -> SegmentIndex.Kept?
    {
        guard let bytes = try await segments.readIndexFile(segment) else { return nil }
        let decoded = try await ComputeQueue.inBackground { try SegmentIndex.decode(bytes, rows: inputRows) }
        if let ivf = decoded.index as? IVFIndex { return .centroids(ivf.centroids, maxImbalance: ivf.imbalance * 1.25) }
        guard let graph = decoded.index as? HNSWIndex else { return nil }
        var position = [String: Int](minimumCapacity: rows.count)
        for (i, row) in rows.enumerated() where !row.deleted { position[row.record.id] = i }
        var keeping: [Int32] = [], first: [Int] = []
        for (node, r) in decoded.nodeRows.enumerated() where keeping.count < perFile {
            let old = inputRows[Int(r)].record
            guard let i = position[old.id], rows[i].record.version == old.version else { continue }
            keeping.append(Int32(node))
            first.append(i)
        }
        guard Double(keeping.count) >= Self.keptGraphMinShare * Double(graph.count) else { return nil }
        let ids = first.map { rows[$0].record.id }
        let taken = Set(first)
        rows = first.map { rows[$0] } + rows.indices.filter { !taken.contains($0) }.map { rows[$0] }
        return .graph(graph, keeping: keeping, ids: ids)
    }
}
