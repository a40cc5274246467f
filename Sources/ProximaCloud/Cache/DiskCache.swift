#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ProximaCore
import Synchronization

/// The local-disk tier (NVMe, or Lambda's /tmp): one file per entry, read
/// through mmap, bounded by `capacityBytes` with least-recently-used
/// eviction, kept across restarts.
///
/// A file is written to `tmp/` and renamed into place, so a process killed
/// mid-write leaves only a temporary (removed at the next start), never a
/// torn entry; each file carries its key and a CRC-32C of its value, checked
/// on every read, so damage (a crash of the machine before the data reached
/// the disk, a bad sector) reads as a miss and the file goes.
///
///     "PXCACHE1", u32 key length, key, i64 expiry (µs, -1 none),
///     u64 value length, u32 CRC-32C of the value, value
public final class DiskCache: RangedCloudCache {
    public let path: String
    public let capacityBytes: Int
    let clock: any WallClock
    let entriesDir: String
    let tmpDir: String

    private struct Index {
        /// file name -> (bytes on disk, recency)
        var files: [String: (size: Int, tick: UInt64)] = [:]
        var nextTick: UInt64 = 1
        var bytes = 0
    }

    private let index = Mutex(Index())
    private let counters = CacheCounters()
    static let magic = Array("PXCACHE1".utf8)

    /// Opens (or creates) the cache at `path`; entries a previous process left
    /// count toward the bound, oldest modified first to go.
    public init(path: String, capacityBytes: Int, clock: any WallClock = SystemClock()) throws {
        self.path = path
        self.capacityBytes = max(0, capacityBytes)
        self.clock = clock
        entriesDir = path + "/entries"
        tmpDir = path + "/tmp"
        try LocalDirectoryStorage.makeDirectories(entriesDir)
        try LocalDirectoryStorage.makeDirectories(tmpDir)
        for name in LocalDirectoryStorage.names(in: tmpDir) { unlink(tmpDir + "/" + name) }
        var found: [(name: String, size: Int, mtime: Int)] = []
        for name in LocalDirectoryStorage.names(in: entriesDir) {
            var st = stat()
            if stat(entriesDir + "/" + name, &st) == 0 { found.append((name, Int(st.st_size), Int(st.st_mtim.tv_sec))) }
        }
        index.withLock { ix in
            for f in found.sorted(by: { $0.mtime < $1.mtime }) {
                ix.files[f.name] = (f.size, ix.nextTick)
                ix.nextTick += 1
                ix.bytes += f.size
            }
        }
        evictIfNeeded()
    }

    public var tier: String { "disk" }
    public var description: String { "disk \(path) (\(capacityBytes) bytes)" }

    public var stats: CacheStats {
        var s = counters.snapshot
        (s.bytes, s.entries) = index.withLock { ($0.bytes, $0.files.count) }
        return s
    }

    /// FNV-1a of the key, as hex: the file name (the key inside the file settles collisions).
    static func fileName(_ key: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        let value = try await LocalDirectoryStorage.run { [self] in
            try withMapped(key) { Array($0) }
        }
        if value == nil { counters.miss() } else { counters.hit() }
        return value
    }

    /// Runs `body` over the value stored under `key`, mapped from its file
    /// (valid only inside `body`); nil when absent, expired or damaged.
    /// Blocking: call it off the cooperative pool.
    public func withMapped<R>(_ key: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        guard let mapped = map(key) else { return nil }
        return try body(mapped.bytes)
    }

    /// The value stored under `key`, mapped from its file for as long as the
    /// result lives (eviction unlinks the file; the mapping keeps its pages);
    /// nil when absent, expired or damaged. The checksum is verified once per
    /// file this process maps. Blocking: call it off the cooperative pool.
    public func map(_ key: String) -> MappedValue? {
        let name = Self.fileName(key)
        let file = entriesDir + "/" + name
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let size = Int(st.st_size)
        guard size > 0, let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            remove(name)
            return nil
        }
        let bytes = UnsafeRawBufferPointer(start: base, count: size)
        // The whole value's checksum once per file this process maps (a ranged read of a large
        // segment must not hash all of it); the file's identity says whether it is the one checked.
        let identity = FileIdentity(inode: UInt64(st.st_ino), size: size, modified: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
        let checked = verified.withLock { $0[name] == identity }
        guard let value = Self.verify(bytes, key: key, now: clock.nowMicros(), checksum: !checked) else {
            // Damaged, expired or another key's: it goes.
            munmap(base, size)
            remove(name)
            return nil
        }
        if !checked { verified.withLock { $0[name] = identity } }
        touch(name)
        return MappedValue(mapping: UnsafeRawBufferPointer(start: base, count: size), value: value)
    }

    /// The value inside a file's bytes, if the file is whole, unexpired and holds `key`.
    private struct FileIdentity: Equatable {
        var inode: UInt64
        var size: Int
        var modified: Int64
    }

    /// Files whose checksum this process has verified, by name.
    private let verified = Mutex<[String: FileIdentity]>([:])

    static func verify(_ bytes: UnsafeRawBufferPointer, key: String, now: Int64, checksum: Bool = true) -> UnsafeRawBufferPointer? {
        let keyBytes = Array(key.utf8)
        var p = 0
        func u32() -> UInt32? {
            guard p + 4 <= bytes.count else { return nil }
            defer { p += 4 }
            return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt32.self))
        }
        func u64() -> UInt64? {
            guard p + 8 <= bytes.count else { return nil }
            defer { p += 8 }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: p, as: UInt64.self))
        }
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else { return nil }
        p = 8
        guard let keyLength = u32(), Int(keyLength) == keyBytes.count, p + keyBytes.count <= bytes.count,
            bytes[p..<(p + keyBytes.count)].elementsEqual(keyBytes)
        else { return nil }
        p += keyBytes.count
        guard let expiry = u64().map({ Int64(bitPattern: $0) }), expiry < 0 || expiry > now else { return nil }
        guard let length = u64(), let crc = u32(), p + Int(length) == bytes.count else { return nil }
        let value = UnsafeRawBufferPointer(rebasing: bytes[p...])
        guard !checksum || CRC32C.checksum(value) == crc else { return nil }
        return value
    }

    public func set(_ key: String, _ value: [UInt8], ttlSeconds: Int?) async throws {
        var header = ByteWriter()
        header.bytes(Self.magic)
        header.u32(UInt32(key.utf8.count))
        header.bytes(Array(key.utf8))
        header.u64(UInt64(bitPattern: ttlSeconds.map { clock.nowMicros() + Int64($0) * 1_000_000 } ?? -1))
        header.u64(UInt64(value.count))
        header.u32(CRC32C.checksum(value))
        let head = header.out
        let size = head.count + value.count
        guard size <= capacityBytes else { return }
        let name = Self.fileName(key)
        try await LocalDirectoryStorage.run { [self] in
            let staged = tmpDir + "/" + LocalDirectoryStorage.randomName()
            let fd = open(staged, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw LocalDirectoryStorage.error(errno, "cache write") }
            var ok = Self.writeAll(fd, head) && Self.writeAll(fd, value)
            close(fd)
            ok = ok && rename(staged, entriesDir + "/" + name) == 0
            guard ok else {
                let code = errno
                unlink(staged)
                throw LocalDirectoryStorage.error(code, "cache write")
            }
        }
        stored(name, size: size)
    }

    /// Marks a file as the most recently used.
    private func touch(_ name: String) {
        index.withLock { ix in
            if ix.files[name] != nil {
                ix.files[name]!.tick = ix.nextTick
                ix.nextTick += 1
            }
        }
    }

    /// Counts a file just renamed into place as the most recently used, then evicts past the bound.
    private func stored(_ name: String, size: Int) {
        openFiles.withLock { $0[name] = nil }  // a descriptor of the file it replaced
        index.withLock { ix in
            ix.bytes -= ix.files[name]?.size ?? 0
            ix.files[name] = (size, ix.nextTick)
            ix.nextTick += 1
            ix.bytes += size
        }
        evictIfNeeded()
    }

    /// Half the capacity: one object must leave room for others.
    public var maxValueBytes: Int { capacityBytes / 2 }

    public func get(_ key: String, range: Range<Int>) async throws -> [UInt8]? {
        let value = try await LocalDirectoryStorage.run { [self] () throws -> [UInt8]? in
            guard let file = try openFile(key), range.upperBound <= file.valueCount else { return nil }
            return try [UInt8](unsafeUninitializedCapacity: range.count) { out, n in
                var done = 0
                while done < range.count {
                    let got = pread(file.fd, out.baseAddress! + done, range.count - done, off_t(file.valueOffset + range.lowerBound + done))
                    if got < 0, errno == EINTR { continue }
                    guard got > 0 else { throw LocalDirectoryStorage.error(errno, "cache read") }
                    done += got
                }
                n = done
            }
        }
        guard let found = value else {
            counters.miss()
            return nil
        }
        counters.hit()
        return found
    }

    /// A cache file held open for ranged reads: its value's place in the file and its expiry.
    private final class OpenFile: Sendable {
        let fd: Int32
        let key: String
        let valueOffset: Int
        let valueCount: Int
        let expiry: Int64
        init(fd: Int32, key: String, valueOffset: Int, valueCount: Int, expiry: Int64) {
            (self.fd, self.key, self.valueOffset, self.valueCount, self.expiry) = (fd, key, valueOffset, valueCount, expiry)
        }
        deinit { close(fd) }
    }

    /// Files held open for ranged reads, by name; closed when dropped and no read holds them.
    private let openFiles = Mutex<[String: OpenFile]>([:])
    static let maxOpenFiles = 256

    /// The file holding `key`, opened and verified once (whole, its key, its checksum, through
    /// `withMapped`), then held open: a warm query's ranged reads are each one `pread`, where a
    /// mapping per read cost a `munmap` and its TLB shootdown (most of a warm query's CPU).
    /// Blocking: call it off the cooperative pool.
    private func openFile(_ key: String) throws -> OpenFile? {
        let name = Self.fileName(key)
        if let file = openFiles.withLock({ $0[name] }), file.key == key {
            guard file.expiry < 0 || file.expiry > clock.nowMicros() else {
                remove(name)
                return nil
            }
            touch(name)
            return file
        }
        guard let valueCount = try withMapped(key, { $0.count }) else { return nil }
        let fd = open(entriesDir + "/" + name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        // The header's length follows from the key (see the layout above); the file must be the one just verified.
        let keyLength = key.utf8.count
        let valueOffset = 8 + 4 + keyLength + 8 + 8 + 4
        var st = stat()
        var expiry: Int64 = 0
        guard fstat(fd, &st) == 0, Int(st.st_size) == valueOffset + valueCount,
            withUnsafeMutableBytes(of: &expiry, { pread(fd, $0.baseAddress!, 8, off_t(12 + keyLength)) }) == 8
        else {
            close(fd)
            return nil
        }
        let file = OpenFile(fd: fd, key: key, valueOffset: valueOffset, valueCount: valueCount, expiry: Int64(littleEndian: expiry))
        openFiles.withLock { files in
            if files.count >= Self.maxOpenFiles, let any = files.keys.first { files[any] = nil }
            files[name] = file
        }
        return file
    }

    /// Streams the value into a staged file piece by piece (8 MiB at a
    /// time), its checksum computed on the way and written into the header
    /// last; renamed into place only when whole.
    public func fill(_ key: String, size: Int, read: @escaping @Sendable (Range<Int>) async throws -> [UInt8]) async throws {
        var header = ByteWriter()
        header.bytes(Self.magic)
        header.u32(UInt32(key.utf8.count))
        header.bytes(Array(key.utf8))
        header.u64(UInt64(bitPattern: -1))
        header.u64(UInt64(size))
        let crcOffset = header.out.count
        header.u32(0)
        let head = header.out
        let total = head.count + size
        guard size <= maxValueBytes else { return }
        let staged = tmpDir + "/" + LocalDirectoryStorage.randomName()
        let fd = open(staged, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LocalDirectoryStorage.error(errno, "cache fill") }
        var closed = false
        defer {
            if !closed { close(fd) }
            unlink(staged)
        }
        guard Self.writeAll(fd, head) else { throw LocalDirectoryStorage.error(errno, "cache fill") }
        var crc: UInt32 = 0
        var at = 0
        while at < size {
            let piece = try await read(at..<min(size, at + (8 << 20)))
            guard !piece.isEmpty, piece.count <= size - at else { throw StorageError(.transient, "cache fill: short read of \(key)") }
            crc = piece.withUnsafeBytes { CRC32C.extend(crc, $0) }
            // Blocking writes go to the I/O queue, off the cooperative pool.
            try await LocalDirectoryStorage.run {
                guard Self.writeAll(fd, piece) else { throw LocalDirectoryStorage.error(errno, "cache fill") }
            }
            at += piece.count
        }
        var le = crc.littleEndian
        guard withUnsafeBytes(of: &le, { pwrite(fd, $0.baseAddress!, 4, off_t(crcOffset)) }) == 4 else {
            throw LocalDirectoryStorage.error(errno, "cache fill")
        }
        close(fd)
        closed = true
        let name = Self.fileName(key)
        guard rename(staged, entriesDir + "/" + name) == 0 else { throw LocalDirectoryStorage.error(errno, "cache fill") }
        stored(name, size: total)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    public func delete(_ key: String) async throws { remove(Self.fileName(key)) }

    public func clear() async throws {
        let names = index.withLock { ix in
            defer { ix = Index() }
            return Array(ix.files.keys)
        }
        for name in names { unlink(entriesDir + "/" + name) }
        openFiles.withLock { $0 = [:] }
    }

    private func remove(_ name: String) {
        unlink(entriesDir + "/" + name)
        openFiles.withLock { $0[name] = nil }
        verified.withLock { $0[name] = nil }
        index.withLock { ix in
            if let f = ix.files.removeValue(forKey: name) { ix.bytes -= f.size }
        }
    }

    /// Least recently used files go until the bytes held fit the bound.
    private func evictIfNeeded() {
        let victims: [String] = index.withLock { ix in
            guard ix.bytes > capacityBytes else { return [] }
            var out: [String] = []
            for (name, f) in ix.files.sorted(by: { $0.value.tick < $1.value.tick }) where ix.bytes > capacityBytes {
                ix.files[name] = nil
                ix.bytes -= f.size
                out.append(name)
            }
            return out
        }
        for name in victims { unlink(entriesDir + "/" + name) }
        openFiles.withLock { files in for name in victims { files[name] = nil } }
        if !victims.isEmpty { counters.update { $0.evictions += victims.count } }
    }
}

/// A cache entry's value mapped into memory, unmapped when released.
public final class MappedValue: @unchecked Sendable {
    /// The value's bytes (read-only; valid while this object lives).
    public let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeRawBufferPointer

    init(mapping: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        (self.mapping, self.bytes) = (mapping, value)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count) }
}
