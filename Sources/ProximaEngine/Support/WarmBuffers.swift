import Foundation
import Synchronization

/// Large buffers for the write path, touched before it needs them.
///
/// On a VM (Firecracker, and so Lambda) a process's first write to a page of
/// memory faults into the host: measured on this machine at ~20 µs per 4 KiB
/// page, more than copying the page's megabyte neighbourhood. The write path's
/// serial part, one commit at a time per collection, paid that for every WAL
/// object it encoded and every chunk of the WAL tail it filled: half its time
/// in `bench/ingest`. So WAL encodes reuse buffers, and the tail's next chunk
/// of vectors is allocated and touched on another thread ahead of time.
enum WarmBuffers {
    /// WAL buffers kept for reuse, and the largest kept (at most 32 MiB held
    /// in all: a commit of four 1,000 x 384 batches is 6 MB).
    static let keptWALBuffers = 2
    static let maxWALBufferBytes = 16 << 20
    /// Bytes of vector chunks kept ready, over all sizes (four chunks of 384 dimensions).
    static let keptChunkBytes = 6 << 20

    private static let walBuffers = Mutex<[[UInt8]]>([])
    private static let chunks = Mutex<[(floats: Int, buffer: [Float])]>([])

    /// An empty buffer, with the capacity of one used before when there is one.
    static func takeWALBuffer() -> [UInt8] { walBuffers.withLock { $0.popLast() } ?? [] }

    /// Takes `buffer` (leaving it empty) to keep for the next encode. Storage
    /// must not have kept it: then it is unique, and keeps its pages.
    static func give(walBuffer buffer: inout [UInt8]) {
        var taken: [UInt8] = []
        swap(&taken, &buffer)
        guard taken.capacity <= maxWALBufferBytes else { return }
        taken.removeAll(keepingCapacity: true)
        walBuffers.withLock { if $0.count < keptWALBuffers { $0.append(taken) } }
    }

    /// An empty array with room for `floats` floats, its pages already touched
    /// when one was ready; another is got ready in the background.
    static func takeVectorChunk(floats: Int) -> [Float] {
        let ready = chunks.withLock { kept -> [Float]? in
            guard let i = kept.firstIndex(where: { $0.floats == floats }) else { return nil }
            return kept.remove(at: i).buffer
        }
        if floats * 4 <= keptChunkBytes {
            DispatchQueue.global(qos: .utility).async {
                var buffer = [Float](repeating: 0, count: floats)  // written: the pages are the process's now
                buffer.removeAll(keepingCapacity: true)
                chunks.withLock { kept in
                    kept.append((floats, buffer))
                    while kept.reduce(0, { $0 + $1.floats * 4 }) > keptChunkBytes { kept.removeFirst() }
                }
            }
        }
        if let ready { return ready }
        var buffer: [Float] = []
        buffer.reserveCapacity(floats)
        return buffer
    }
}
