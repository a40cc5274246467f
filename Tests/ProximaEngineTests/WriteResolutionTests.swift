import Foundation
import ProximaTesting
import Testing
@testable import ProximaCore
@testable import ProximaEngine
@testable import ProximaFormat

/// The pieces of the write and maintenance paths, directly: how an intent
/// resolves against a state, how the state applies WAL entries, and which
/// segments a compaction picks.
@Suite struct WriteResolutionTests {
    let now: Int64 = 1_780_000_000_000_000

    func state(_ records: [(String, [Float], Int64?)] = []) -> CollectionState {
        var s = CollectionState(dimension: 2, metric: .euclidean)
        for (i, r) in records.enumerated() {
            let entry = WALEntry(
                entryId: "", collectionId: "c", operation: .insert,
                record: VectorRecord(id: r.0, vector: r.1, timestamp: now - 1, expiresAt: r.2, version: Int64(i + 1)), sequence: Int64(i + 1))
            s.apply([entry], sequence: Int64(i + 1))
        }
        return s
    }

    func resolve(_ intent: WriteIntent, _ state: CollectionState, ttl: Int64? = nil) throws(ProximaError) -> ResolvedWrite {
        var n = 0
        return try intent.resolve(against: state, collectionId: "c", defaultTTL: ttl, now: now) {
            n += 1
            return "gen\(n)"
        }
    }

    @Test func insertsCheckDuplicatesExistingIdsAndApplyTTL() throws {
        let s = state([("a", [0, 0], nil)])
        #expect(throws: ProximaError(.duplicateId, "id 'x' appears twice in the batch")) {
            try resolve(.insert([.init(id: "x", vector: [1, 1]), .init(id: "x", vector: [2, 2])], upsert: false), s)
        }
        #expect((try? resolve(.insert([.init(id: "a", vector: [1, 1])], upsert: false), s)) == nil)
        let upsert = try resolve(.insert([.init(id: "a", vector: [1, 1])], upsert: true), s)
        #expect(upsert.entries.map(\.operation) == [.upsert])
        let generated = try resolve(
            .insert([.init(id: nil, vector: [1, 1]), .init(id: "own", vector: [2, 2], expiresAt: now + 5)], upsert: false), s, ttl: 60_000_000)
        #expect(generated.outcome.ids == ["gen1", "own"])
        #expect(generated.entries.map(\.record.expiresAt) == [now + 60_000_000, now + 5], "default TTL only where none was given")
        #expect(generated.entries.allSatisfy { $0.record.timestamp == now })
    }

    @Test func updatesKeepWhatTheyDoNotChange() throws {
        let s = state([("a", [0, 0], now + 100)])
        #expect((try? resolve(.update(id: "nope", vector: nil, metadata: ["m": 1], expiresAt: .keep), s)) == nil)
        let meta = try resolve(.update(id: "a", vector: nil, metadata: ["m": 1], expiresAt: .keep), s)
        #expect(meta.outcome.record?.vector == [0, 0] && meta.outcome.record?.metadata == ["m": 1])
        #expect(meta.outcome.record?.expiresAt == now + 100)
        let created = try resolve(.update(id: "new", vector: [3, 3], metadata: nil, expiresAt: .keep), s, ttl: 10)
        #expect(created.outcome.record?.expiresAt == now + 10)
        let cleared = try resolve(.update(id: "a", vector: nil, metadata: nil, expiresAt: .set(nil)), s)
        #expect(cleared.outcome.record?.expiresAt == nil)
    }

    @Test func deletesCountOnlyLiveIds() throws {
        let s = state([("a", [0, 0], nil), ("b", [1, 1], nil), ("gone", [2, 2], now - 1)])
        let d = try resolve(.delete(ids: ["b", "a", "b", "missing", "gone"], requireExisting: false), s)
        #expect(d.outcome.ids == ["a", "b"] && d.entries.map(\.operation) == [.delete, .delete])
        #expect(d.touchedIds == ["a", "b", "missing", "gone"])
        #expect((try? resolve(.delete(ids: ["missing", "gone"], requireExisting: true), s)) == nil)
        let byFilter = try resolve(.deleteMatching(try Filter.parse(["nothing": 1])), s)
        #expect(byFilter.entries.isEmpty)
    }

    @Test func stateAppliesTheLatestVersionAndHidesExpiredRecords() async throws {
        var s = state([("a", [0, 0], nil), ("b", [5, 5], now + 10)])
        #expect(s.liveCount(now: now) == 2 && s.liveCount(now: now + 10) == 1)
        s.apply([WALEntry(entryId: "", collectionId: "c", operation: .upsert, record: VectorRecord(id: "a", vector: [9, 9], version: 3), sequence: 3)], sequence: 3)
        #expect(s.record("a", now: now)?.vector == [9, 9])
        s.apply([WALEntry(entryId: "", collectionId: "c", operation: .delete, record: VectorRecord(id: "a", vector: [], version: 4), sequence: 4)], sequence: 4)
        #expect(s.record("a", now: now) == nil && !s.contains("a", now: now))
        #expect(try await s.search([5, 5], k: 5, filter: nil, now: now).map(\.record.id) == ["b"])
        #expect(try await s.search([5, 5], k: 5, filter: nil, now: now + 10).isEmpty)
    }

    /// A state rebased from a copy while the original went on applying WAL
    /// (the handle does so off its actor) takes what was applied meanwhile,
    /// and ends as the original rebased in place would.
    @Test func aStateRebasedFromACopyTakesWhatWasAppliedMeanwhile() async throws {
        func entry(_ id: String, _ v: [Float], _ sequence: Int64, _ op: WriteOperation = .upsert) -> WALEntry {
            WALEntry(entryId: "", collectionId: "c", operation: op, record: VectorRecord(id: id, vector: op == .delete ? [] : v, version: sequence), sequence: sequence)
        }
        var live = CollectionState(dimension: 2, metric: .euclidean)
        live.apply([entry("a", [0, 0], 1), entry("b", [1, 1], 1)], sequence: 1)
        live.apply([entry("c", [2, 2], 2)], sequence: 2)
        // A manifest covering sequence 1: its segment holds a and b.
        let segment = LoadedSegment(
            id: "s", rows: [SegmentRow(record: VectorRecord(id: "a", vector: [0, 0], version: 1), deleted: false),
                            SegmentRow(record: VectorRecord(id: "b", vector: [1, 1], version: 1), deleted: false)],
            dimension: 2, index: nil)
        let segments = CollectionView(dimension: 2, metric: .euclidean, segments: [segment])
        var rebased = live
        // Meanwhile: a moved, b deleted, d new.
        live.apply([entry("a", [5, 5], 3), entry("b", [], 3, .delete)], sequence: 3)
        live.apply([entry("d", [3, 3], 4)], sequence: 4)
        rebased.rebase(onto: segments, walThrough: 1)
        rebased.append(tailOf: live)
        var inPlace = live
        inPlace.rebase(onto: segments, walThrough: 1)
        for s in [rebased, inPlace] {
            #expect(s.appliedSequence == 4 && s.liveCount(now: now) == 3)
            #expect(s.record("a", now: now)?.vector == [5, 5] && s.record("b", now: now) == nil)
            #expect(s.record("c", now: now)?.vector == [2, 2] && s.record("d", now: now)?.vector == [3, 3])
            #expect(try await s.search([5, 5], k: 4, filter: nil, now: now).map(\.record.id) == ["a", "d", "c"])
        }
    }

    @Test func compactionPicksTheLongestRunOfSmallSegments() {
        var settings = MaintenanceSettings()
        settings.minFilesForCompaction = 3
        settings.maxFilesPerCompaction = 4
        settings.targetFileBytes = 1000
        let maintenance = Maintenance(
            storage: MemoryStorage(), layout: StorageLayout(), config: try! CollectionConfig(spec: CollectionSpec(name: "c", dimension: 2), id: "id", now: now),
            settings: settings)
        func manifest(_ sizes: [Int], tombstones: [Int: Int] = [:], expiry: [Int: Int64] = [:]) -> Manifest {
            Manifest(
                version: 1, walThrough: 1, createdAt: now,
                segments: sizes.enumerated().map { i, b in
                    Manifest.Segment(
                        id: "s\(i)", rows: 100, tombstones: tombstones[i] ?? 0, bytes: b, crc32c: 0, minVersion: 0, maxVersion: 0,
                        earliestExpiry: expiry[i], index: nil)
                }, job: nil)
        }
        // small = under 500 bytes: runs [0,1] and [3,4,5,6,7] (capped at 4 files)
        #expect(maintenance.compactionRun(manifest([100, 100, 900, 100, 100, 100, 100, 100]), force: false, now: now) == 3..<7)
        #expect(maintenance.compactionRun(manifest([100, 100, 900]), force: false, now: now) == nil)
        // A segment with expired records, or a quarter tombstones, is rewritten alone.
        #expect(maintenance.compactionRun(manifest([900, 900], expiry: [1: now]), force: false, now: now) == 1..<2)
        #expect(maintenance.compactionRun(manifest([900, 900], tombstones: [0: 25]), force: false, now: now) == 0..<1)
        #expect(maintenance.compactionRun(manifest([900]), force: true, now: now) == nil, "one clean segment: nothing to do")
        #expect(maintenance.compactionRun(manifest([900, 900]), force: true, now: now) == 0..<2)
    }
}
