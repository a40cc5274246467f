import ProximaCore
import ProximaFormat

/// The WAL entries after the manifest's `walThrough`, in the order they were
/// applied: one row per entry (a delete is a row too, so it keeps hiding the
/// id in the segments when the tail is rebuilt over a newer manifest).
///
/// Rows live in chunks of `chunkRows`: a snapshot shares them, and a write
/// after it copies only the chunk it changes, never the whole tail.
struct WALTail: Sendable {
    static let chunkRows = 1024

    struct Chunk: Sendable {
        var ids: [String] = []
        var vectors: [Float] = []
        var inverseNorms: [Float] = []
        var metadata: [[String: JSONValue]] = []
        var timestamps: [Int64] = []
        var expiresAt: [Int64] = []
        var versions: [Int64] = []
        var sequences: [Int64] = []
        var deleted: [Bool] = []
        /// A later row of the tail writes or deletes the same id.
        var superseded: [Bool] = []

        var count: Int { ids.count }

        /// Neither deleted nor superseded.
        func isVisible(_ i: Int) -> Bool { !deleted[i] && !superseded[i] }

        func record(at i: Int, dimension: Int) -> VectorRecord {
            VectorRecord(
                id: ids[i], vector: deleted[i] ? [] : Array(vectors[(i * dimension)..<((i + 1) * dimension)]), metadata: metadata[i],
                timestamp: timestamps[i], expiresAt: expiresAt[i] == .max ? nil : expiresAt[i], version: versions[i])
        }
    }

    let dimension: Int
    private(set) var chunks: [Chunk] = []
    private(set) var count = 0

    init(dimension: Int) { self.dimension = dimension }

    /// Appends a row; answers its position.
    mutating func append(_ record: VectorRecord, deleted: Bool, sequence: Int64) -> Int {
        if chunks.last.map({ $0.count >= Self.chunkRows }) ?? true {
            var chunk = Chunk()
            // Past a first chunk the tail is filling: its next chunk's vectors come from memory touched
            // ahead (see `WarmBuffers`). A small tail keeps small arrays.
            if !chunks.isEmpty { chunk.vectors = WarmBuffers.takeVectorChunk(floats: Self.chunkRows * dimension) }
            chunks.append(chunk)
        }
        let c = chunks.count - 1
        chunks[c].ids.append(record.id)
        if deleted {
            chunks[c].vectors.append(contentsOf: repeatElement(0, count: dimension))
            chunks[c].inverseNorms.append(0)
        } else {
            precondition(record.vector.count == dimension, "WAL record of the wrong dimension")
            chunks[c].vectors.append(contentsOf: record.vector)
            chunks[c].inverseNorms.append(record.vector.withUnsafeBufferPointer { DistanceKernels.inverseNorm($0.baseAddress!, dimension) })
        }
        chunks[c].metadata.append(deleted ? [:] : record.metadata)
        chunks[c].timestamps.append(record.timestamp)
        chunks[c].expiresAt.append(record.expiresAt ?? .max)
        chunks[c].versions.append(record.version)
        chunks[c].sequences.append(sequence)
        chunks[c].deleted.append(deleted)
        chunks[c].superseded.append(false)
        count += 1
        return count - 1
    }

    mutating func markSuperseded(_ row: Int) {
        chunks[row / Self.chunkRows].superseded[row % Self.chunkRows] = true
    }

    func isDeleted(_ row: Int) -> Bool { chunks[row / Self.chunkRows].deleted[row % Self.chunkRows] }
    func sequence(_ row: Int) -> Int64 { chunks[row / Self.chunkRows].sequences[row % Self.chunkRows] }
    func expiresAt(_ row: Int) -> Int64 { chunks[row / Self.chunkRows].expiresAt[row % Self.chunkRows] }
    func record(at row: Int) -> VectorRecord { chunks[row / Self.chunkRows].record(at: row % Self.chunkRows, dimension: dimension) }

    /// Rows from WAL sequences after `sequence`, oldest first, as (record, deleted, sequence).
    func rows(after sequence: Int64) -> [(record: VectorRecord, deleted: Bool, sequence: Int64)] {
        var out: [(VectorRecord, Bool, Int64)] = []
        // Sequences only grow along the tail: chunks wholly at or before `sequence` are skipped.
        for chunk in chunks where (chunk.sequences.last ?? .min) > sequence {
            for i in 0..<chunk.count where chunk.sequences[i] > sequence {
                out.append((chunk.record(at: i, dimension: dimension), chunk.deleted[i], chunk.sequences[i]))
            }
        }
        return out
    }
}
