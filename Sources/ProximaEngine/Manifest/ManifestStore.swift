import ProximaCloud
import ProximaCore
import ProximaFormat

/// Reading and publishing a collection's manifest versions.
struct ManifestStore: Sendable {
    let storage: any CloudStorage
    let layout: StorageLayout
    let collectionId: String

    /// The newest version after `version`, or nil when `version` is the newest.
    /// Listing (not probing `version + 1`) stays right when old versions have
    /// been collected.
    func latest(after version: Int64) async throws -> Manifest? {
        let prefix = layout.manifestPrefix(collectionId)
        let start = version > 0 ? layout.manifestKey(collectionId, version: version) : nil
        var attempt = 0
        while true {
            guard let last = try await storage.listAll(prefix: prefix, startAfter: start).last(where: {
                StorageLayout.sequence(fromKey: $0.key) != nil
            }) else { return nil }
            do {
                return try await read(last.key)
            } catch let e as StorageError where e.kind == .notFound && attempt < 4 {
                // Garbage collection removed the one listed: a newer one was published after the listing
                // (collection keeps the newest), so the next listing names it.
                attempt += 1
            }
        }
    }

    func latest() async throws -> Manifest { try await latest(after: 0) ?? .empty }

    func read(_ key: String) async throws -> Manifest {
        let bytes = try await storage.get(key).bytes
        do {
            return try Manifest.decode(bytes)
        } catch {
            throw ProximaError(.storageCorrupted, "manifest \(key) is damaged: \(error)")
        }
    }

    /// Publishes `next` as version `next.version`; false when another worker
    /// took that version first (the caller rereads and rebases or gives up).
    func publish(_ next: Manifest) async throws -> Bool {
        do {
            try await storage.put(layout.manifestKey(collectionId, version: next.version), next.encode(), condition: .createOnly)
            return true
        } catch let e as StorageError where e.kind == .preconditionFailed {
            return false
        }
    }
}
