#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ProximaCore

/// `CloudQueue` on a local directory, shared safely by several processes:
/// the embedded default's flush and compaction queue.
///
/// A message is a file. `ready/{visible-at}-{id}~{receives}` waits to be
/// received; receiving renames it to `inflight/{deadline}~{receives}~{visible-at}-{id}`
/// (rename is atomic, so exactly one consumer wins it), and the in-flight name
/// is the receipt. A consumer that finds an in-flight message past its
/// deadline renames it back to `ready/`. Files are written durably.
public final class LocalDirectoryQueue: CloudQueue {
    public let path: String
    let ready: String
    let inflight: String
    let tmp: String
    /// Visibility deadlines and delays are read off this clock (tests move it
    /// by hand); how long `receive` waits is real time.
    let clock: any WallClock

    public var description: String { "dir://\(path)" }

    public init(path: String, clock: any WallClock = SystemClock()) throws {
        self.path = path
        self.clock = clock
        ready = path + "/ready"
        inflight = path + "/inflight"
        tmp = path + "/tmp"
        for dir in [ready, inflight, tmp] { try LocalDirectoryStorage.makeDirectories(dir) }
    }

    public func send(_ body: String, delaySeconds: Int) async throws {
        let visibleAt = clock.nowMicros() + Int64(max(0, delaySeconds)) * 1_000_000
        let name = String(zeroPadded: visibleAt, width: 20) + "-" + LocalDirectoryStorage.randomName() + "~0"
        try await LocalDirectoryStorage.run { [tmp, ready] in
            let staged = tmp + "/" + name
            try LocalDirectoryStorage.writeDurably(staged, Array(body.utf8))
            guard rename(staged, ready + "/" + name) == 0 else { throw LocalDirectoryStorage.error(errno, "queue send") }
            try LocalDirectoryStorage.syncDirectory(ready)
        }
    }

    public func receive(max: Int, visibilityTimeoutSeconds: Int, waitSeconds: Int) async throws -> [QueueMessage] {
        let deadline = ContinuousClock.now + .seconds(waitSeconds)
        while true {
            let got = try await LocalDirectoryStorage.run { [self] in try self.take(max: max, visibility: visibilityTimeoutSeconds) }
            if !got.isEmpty || ContinuousClock.now >= deadline { return got }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    public func delete(receipt: String) async throws {
        guard Self.isPlainName(receipt) else { return }
        try await LocalDirectoryStorage.run { [inflight] in
            if unlink(inflight + "/" + receipt) != 0, errno != ENOENT { throw LocalDirectoryStorage.error(errno, "queue delete") }
        }
    }

    public func changeVisibility(receipt: String, seconds: Int) async throws -> String {
        guard Self.isPlainName(receipt), let parts = Self.inflightParts(receipt) else { return receipt }
        let renewed = String(zeroPadded: clock.nowMicros() + Int64(seconds) * 1_000_000, width: 20) + "~\(parts.count)~" + parts.base
        return try await LocalDirectoryStorage.run { [inflight] in
            guard rename(inflight + "/" + receipt, inflight + "/" + renewed) == 0 else {
                throw LocalDirectoryStorage.error(errno, "queue change visibility (message redelivered?)")
            }
            return renewed
        }
    }

    // MARK: blocking helpers (run on the storage I/O queue)

    private func take(max: Int, visibility: Int) throws -> [QueueMessage] {
        let now = clock.nowMicros()
        // Redeliver what a crashed or slow consumer left past its deadline.
        for name in LocalDirectoryStorage.names(in: inflight) {
            guard let parts = Self.inflightParts(name), parts.deadline < now else { continue }
            _ = rename(inflight + "/" + name, ready + "/" + parts.base + "~\(parts.count)")
        }
        var out: [QueueMessage] = []
        for name in LocalDirectoryStorage.names(in: ready).sorted() where out.count < max {
            guard let tilde = name.lastIndex(of: "~"), let count = Int(name[name.index(after: tilde)...]),
                let visibleAt = Int64(name.prefix(20)), visibleAt <= now
            else { continue }
            let base = String(name[..<tilde])
            let receipt = String(zeroPadded: now + Int64(visibility) * 1_000_000, width: 20) + "~\(count + 1)~" + base
            guard rename(ready + "/" + name, inflight + "/" + receipt) == 0 else { continue }  // another consumer won it
            let body = (try? LocalDirectoryStorage.readFile(inflight + "/" + receipt)) ?? []
            out.append(QueueMessage(id: base, body: String(decoding: body, as: UTF8.self), receipt: receipt, receiveCount: count + 1))
        }
        return out
    }

    static func inflightParts(_ name: String) -> (deadline: Int64, count: Int, base: String)? {
        let parts = name.split(separator: "~", maxSplits: 2)
        guard parts.count == 3, let deadline = Int64(parts[0]), let count = Int(parts[1]) else { return nil }
        return (deadline, count, String(parts[2]))
    }

    static func isPlainName(_ s: String) -> Bool { !s.isEmpty && !s.contains("/") && !s.hasPrefix(".") }
}
