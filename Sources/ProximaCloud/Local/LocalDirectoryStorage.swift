#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// `CloudStorage` on a local directory: the embedded default.
///
/// Durability and atomicity as an object store gives them: every put writes a
/// temporary file, fsyncs it, then publishes it with `link` (create-only: fails
/// if the key exists) or `rename` (overwrite), and fsyncs the directory. An
/// `If-Match` put compares and swaps under an `flock`, so separate processes
/// sharing the directory see the same conditional-write rules as on S3.
/// Blocking system calls run on a private dispatch queue, off the async pool.
public final class LocalDirectoryStorage: CloudStorage {
    public let root: String
    private let tmpDir: String
    private let lockPath: String
    private static let io = DispatchQueue(label: "proximadb.local-storage", attributes: .concurrent)

    public var description: String { "file://\(root)" }

    public init(root: String) throws {
        var path = root
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        if !path.hasPrefix("/") {
            var buf = [CChar](repeating: 0, count: 4096)
            guard getcwd(&buf, buf.count) != nil else { throw StorageError(.fatal, "cannot read the working directory") }
            let cwd = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            path = path == "." ? cwd : cwd + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
        }
        self.root = path
        self.tmpDir = path + "/.tmp"
        self.lockPath = path + "/.lock"
        try Self.makeDirectories(path)
        try Self.makeDirectories(tmpDir)
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.error(errno, "cannot create \(lockPath)") }
        close(fd)
        Self.removeStaleTemporaries(tmpDir)
    }

    /// A process killed mid-put leaves its temporary file behind; one an hour
    /// old belongs to no live put.
    static func removeStaleTemporaries(_ dir: String) {
        let cutoff = time(nil) - 3600
        for name in names(in: dir) {
            var st = stat()
            let path = dir + "/" + name
            if stat(path, &st) == 0, st.st_mtim.tv_sec < cutoff { unlink(path) }
        }
    }

    // MARK: CloudStorage

    public func get(_ key: String, range: Range<Int>?) async throws -> StoredObject {
        try ObjectKey.validate(key)
        let path = root + "/" + key
        return try await run {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Self.error(errno, key) }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw Self.error(errno, key) }
            let size = Int(st.st_size)
            let lower = min(range?.lowerBound ?? 0, size)
            let upper = min(range?.upperBound ?? size, size)
            var bytes = [UInt8](repeating: 0, count: max(0, upper - lower))
            var done = 0
            while done < bytes.count {
                let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(lower + done)) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw Self.error(n < 0 ? errno : EIO, "short read of \(key)") }
                done += n
            }
            return StoredObject(bytes: bytes, etag: Self.etag(st))
        }
    }

    public func head(_ key: String) async throws -> ObjectInfo {
        try ObjectKey.validate(key)
        let path = root + "/" + key
        return try await run {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw Self.error(ENOENT, key) }
            return ObjectInfo(key: key, size: Int(st.st_size), etag: Self.etag(st))
        }
    }

    @discardableResult
    public func put(_ key: String, _ bytes: [UInt8], condition: PutCondition) async throws -> String {
        try ObjectKey.validate(key)
        let path = root + "/" + key
        let dir = String(path[..<path.lastIndex(of: "/")!])
        let tmp = tmpDir + "/" + Self.randomName()
        let lockPath = self.lockPath
        return try await run {
            try Self.makeDirectories(dir)
            try Self.writeDurably(tmp, bytes)
            defer { unlink(tmp) }
            // The etag is read before publishing: link and rename keep the inode, its mtime and size,
            // and the published object may already be gone (collected) when a stat after would run.
            var st = stat()
            guard stat(tmp, &st) == 0 else { throw Self.error(errno, key) }
            let etag = Self.etag(st)
            switch condition {
            case .createOnly:
                // link(2) refuses an existing target: an atomic create-only publish.
                guard link(tmp, path) == 0 else {
                    if errno == EEXIST { throw StorageError(.preconditionFailed, "\(key) exists") }
                    throw Self.error(errno, key)
                }
            case .none:
                guard rename(tmp, path) == 0 else { throw Self.error(errno, key) }
            case .ifMatch(let expected):
                try Self.withLock(lockPath) {
                    var st = stat()
                    guard stat(path, &st) == 0 else { throw StorageError(.preconditionFailed, "\(key) does not exist") }
                    guard Self.etag(st) == expected else { throw StorageError(.preconditionFailed, "\(key) has changed") }
                    guard rename(tmp, path) == 0 else { throw Self.error(errno, key) }
                }
            }
            try Self.syncDirectory(dir)
            return etag
        }
    }

    public func delete(_ key: String) async throws {
        try ObjectKey.validate(key)
        let path = root + "/" + key
        let lockPath = self.lockPath
        try await run {
            try Self.withLock(lockPath) {
                guard unlink(path) == 0 || errno == ENOENT else { throw Self.error(errno, key) }
            }
        }
    }

    public func list(prefix: String, startAfter: String?, limit: Int) async throws -> ListPage {
        if !prefix.isEmpty {
            // A prefix may end inside a component ("wal/0000"); validate what precedes it.
            let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
            try ObjectKey.validate(trimmed.isEmpty ? "x" : trimmed)
        }
        let root = self.root
        return try await run {
            // Walk only the deepest directory the prefix fully names.
            let dirPart = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
            var keys: [String] = []
            Self.walk(root: root, relative: dirPart, into: &keys)
            keys = keys.filter { $0.hasPrefix(prefix) && (startAfter == nil || $0 > startAfter!) }
            keys.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            let page = keys.prefix(max(1, limit))
            var objects: [ObjectInfo] = []
            for key in page {
                var st = stat()
                if stat(root + "/" + key, &st) == 0 {
                    objects.append(ObjectInfo(key: key, size: Int(st.st_size), etag: Self.etag(st)))
                }
            }
            return ListPage(objects: objects, isTruncated: keys.count > page.count)
        }
    }

    // MARK: helpers

    private func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T { try await Self.run(body) }

    /// Runs blocking file-system calls off the async pool.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            io.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// A directory entry's name, read in place: `entry.pointee.d_name` would copy
    /// all 256 bytes of the field, but readdir packs entries to their names'
    /// length, so the copy reads past the last entry's buffer (ASan caught it;
    /// at a page's end it crashed the server).
    static func entryName(_ entry: UnsafeMutablePointer<dirent>) -> String {
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
    }

    /// The entries of a directory, without hidden ones.
    static func names(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let entry = readdir(d) {
            let name = entryName(entry)
            if !name.hasPrefix(".") { out.append(name) }
        }
        return out
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw error(errno, path) }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    static func etag(_ st: stat) -> String {
        // Every put publishes a new inode, so inode + mtime + size changes on every write.
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        return "\"\(String(UInt64(st.st_ino), radix: 16))-\(String(mtime, radix: 16))-\(String(Int64(st.st_size), radix: 16))\""
    }

    static func randomName() -> String {
        var g = SystemRandomNumberGenerator()
        return String(g.next() as UInt64, radix: 36) + String(g.next() as UInt64, radix: 36)
    }

    static func error(_ code: Int32, _ what: String) -> StorageError {
        switch code {
        case ENOENT, ENOTDIR: StorageError(.notFound, what)
        case EACCES, EPERM: StorageError(.auth, "permission denied: \(what)")
        case ENOSPC, EDQUOT: StorageError(.transient, "disk full writing \(what)")
        default: StorageError(.transient, "\(what): \(String(cString: strerror(code)))")
        }
    }

    static func writeDurably(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(errno, path) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw error(errno, path) }
            done += n
        }
        guard fsync(fd) == 0 else { throw error(errno, path) }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw error(errno, path) }
    }

    /// mkdir -p, fsyncing each parent that gained an entry.
    static func makeDirectories(_ path: String) throws {
        var st = stat()
        if stat(path, &st) == 0 { return }
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        if !parent.isEmpty { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0, errno != EEXIST { throw error(errno, path) }
        if !parent.isEmpty { try syncDirectory(parent) }
    }

    static func withLock<T>(_ lockPath: String, _ body: () throws -> T) throws -> T {
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(errno, lockPath) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw error(errno, lockPath) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    static func walk(root: String, relative: String, into keys: inout [String]) {
        let path = relative.isEmpty ? root : root + "/" + relative
        guard let dir = opendir(path) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = entryName(entry)
            if name.hasPrefix(".") { continue }  // ".", "..", ".tmp", ".lock"
            let rel = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard stat(root + "/" + rel, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                walk(root: root, relative: rel, into: &keys)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                keys.append(rel)
            }
        }
    }
}
