import Foundation
import ProximaCore
import ProximaFormat

/// Which row of a segment answers for an id, and which rows another row of
/// the same id replaces (a segment should hold an id once; if not, the
/// highest version wins, the later row on a tie).
///
/// Flush and compaction write a segment's live rows, then its tombstones,
/// each run in id order (UTF-8 bytes), so a lookup is a binary search over
/// the ids the segment already holds: nothing is hashed when a segment opens
/// (hashing a million ids was most of a cold open's CPU). Ids must be ASCII
/// for that: everywhere else an id is a Swift `String`, equal to another when
/// canonically equivalent, and only among ASCII strings is that byte
/// equality. A segment with other ids, or in no such order (none written
/// today; the format does not promise it), gets a hash table.
struct RowLookup: Sendable {
    private enum Kind {
        /// At most two runs of rows, each sorted by id.
        case sorted([Range<Int>])
        case table([String: Int32])
    }

    private let kind: Kind
    /// Rows another row of the same id replaces.
    let shadowed: Bitset

    /// `ids` and `versions` per row; a run ends where `deleted` changes.
    init(ids: PackedStrings, versions: [Int64], deleted: Bitset) {
        let n = ids.count
        var runs: [Range<Int>] = []
        var start = 0, sorted = ids.isASCII
        for r in 1..<max(n, 1) where sorted {
            if deleted[r] != deleted[r - 1] {
                runs.append(start..<r)
                start = r
            } else if ids.compare(r, r - 1) < 0 {
                sorted = false
            }
        }
        if n > 0 { runs.append(start..<n) }
        var shadowed = Bitset(count: n)
        guard sorted, runs.count <= 2 else {
            var table = [String: Int32](minimumCapacity: n)
            for r in 0..<n {
                let id = ids[r]
                if let other = table[id] {
                    if versions[Int(other)] > versions[r] {
                        shadowed[r] = true
                        continue
                    }
                    shadowed[Int(other)] = true
                }
                table[id] = Int32(r)
            }
            (kind, self.shadowed) = (.table(table), shadowed)
            return
        }
        /// Of rows holding one id, all but the winner are shadowed.
        func settle(_ rows: [Int]) {
            guard rows.count > 1, let winner = rows.max(by: { (versions[$0], $0) < (versions[$1], $1) }) else { return }
            for r in rows where r != winner { shadowed[r] = true }
        }
        // Equal ids sit next to each other within a run; across the two runs, each group of the
        // smaller is looked up in the larger (tombstones are usually few).
        let larger = runs.indices.max { runs[$0].count < runs[$1].count } ?? 0
        for (i, run) in runs.enumerated() {
            var lo = run.lowerBound
            while lo < run.upperBound {
                var hi = lo + 1
                while hi < run.upperBound, ids.compare(hi, lo) == 0 { hi += 1 }
                if hi - lo > 1 || i != larger {
                    var group = Array(lo..<hi)
                    if i != larger { group += ids.withBytes(lo) { Array(Self.equalRange(of: $0, in: runs[larger], ids: ids)) } }
                    settle(group)
                }
                lo = hi
            }
        }
        (kind, self.shadowed) = (.sorted(runs), shadowed)
    }

    /// The row answering for `id`, nil when the segment does not hold it.
    func row(of id: String, ids: PackedStrings) -> Int32? {
        switch kind {
        case .table(let table):
            return table[id]
        case .sorted(let runs):
            // Every id here is ASCII: another string equals one of them only if its canonical composition is it.
            var key = Self.isASCII(id) ? id : id.precomposedStringWithCanonicalMapping
            guard Self.isASCII(key) else { return nil }
            return key.withUTF8 { key in
                for run in runs {
                    for r in Self.equalRange(of: key, in: run, ids: ids) where !shadowed[r] { return Int32(r) }
                }
                return nil
            }
        }
    }

    /// Answering rows of this segment whose id `other` also holds, by a walk
    /// of both segments' sorted runs (linear, where looking each id up would
    /// be a binary search per row); nil unless both are in sorted runs.
    func rows(alsoIn other: RowLookup, ids: PackedStrings, otherIds: PackedStrings) -> [Int]? {
        guard case .sorted(let mine) = kind, case .sorted(let theirs) = other.kind else { return nil }
        var out: [Int] = []
        for a in mine {
            for b in theirs {
                var i = a.lowerBound, j = b.lowerBound
                while i < a.upperBound, j < b.upperBound {
                    let c = ids.withBytes(i) { key in otherIds.compare(j, key) }  // theirs against mine
                    if c > 0 {
                        i += 1
                    } else if c < 0 {
                        j += 1
                    } else {
                        if !shadowed[i] { out.append(i) }
                        i += 1
                    }
                }
            }
        }
        return out
    }

    /// The least and greatest of `ids` (UTF-8 order); nil when there are none.
    func idBounds(_ ids: PackedStrings) -> (least: String, greatest: String)? {
        guard !ids.isEmpty else { return nil }
        var least = 0, greatest = 0
        let candidates: [Int] = switch kind {
        case .sorted(let runs): runs.flatMap { [$0.lowerBound, $0.upperBound - 1] }  // each run's ends
        case .table: Array(ids.indices)
        }
        for r in candidates {
            if ids.compare(r, least) < 0 { least = r }
            if ids.compare(r, greatest) > 0 { greatest = r }
        }
        return (ids[least], ids[greatest])
    }

    private static func isASCII(_ s: String) -> Bool { s.utf8.allSatisfy { $0 < 0x80 } }

    /// Rows of `run` (sorted by id) holding `key`.
    private static func equalRange(of key: UnsafeBufferPointer<UInt8>, in run: Range<Int>, ids: PackedStrings) -> Range<Int> {
        var (lo, hi) = (run.lowerBound, run.upperBound)
        while lo < hi {
            let mid = (lo + hi) / 2
            if ids.compare(mid, key) < 0 { lo = mid + 1 } else { hi = mid }
        }
        var end = lo
        while end < run.upperBound, ids.compare(end, key) == 0 { end += 1 }
        return lo..<end
    }
}
