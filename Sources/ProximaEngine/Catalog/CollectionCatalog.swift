import ProximaCloud
import ProximaCore

/// The collection catalog: one small JSON object per collection, created
/// with a create-only put and changed only by compare-and-swap, so two
/// processes can never both create a name or lose each other's changes.
public struct CollectionCatalog: Sendable {
    let storage: any CloudStorage
    let layout: StorageLayout

    public init(storage: any CloudStorage, layout: StorageLayout) {
        self.storage = storage
        self.layout = layout
    }

    public func create(_ config: CollectionConfig) async throws -> CollectionConfig {
        let bytes = JSONWriter.encode(config.toJSON())
        do {
            try await storage.put(layout.catalogKey(config.name), bytes, condition: .createOnly)
        } catch let e as StorageError where e.kind == .preconditionFailed {
            throw ProximaError(.collectionExists, "collection '\(config.name)' already exists")
        }
        return config
    }

    /// The collection and the ETag of its catalog object, or a 404.
    public func get(_ name: String) async throws -> (config: CollectionConfig, etag: String) {
        try Validation.collectionName(name)
        let object: StoredObject
        do {
            object = try await storage.get(layout.catalogKey(name))
        } catch let e as StorageError where e.kind == .notFound {
            throw ProximaError(.collectionNotFound, "collection '\(name)' does not exist")
        }
        guard let json = try? JSONParser.parse(object.bytes) else {
            throw ProximaError(.storageCorrupted, "catalog entry for '\(name)' is not valid JSON")
        }
        return (try CollectionConfig.fromStored(json), object.etag)
    }

    public func list() async throws -> [CollectionConfig] {
        var out: [CollectionConfig] = []
        for object in try await storage.listAll(prefix: layout.catalogPrefix) where object.key.hasSuffix(".json") {
            let name = String(object.key.dropFirst(layout.catalogPrefix.count).dropLast(5))
            // A collection deleted between list and get is simply skipped.
            if let entry = try? await get(name) { out.append(entry.config) }
        }
        return out.sorted { $0.name < $1.name }
    }

    /// Read-modify-write with compare-and-swap, retried when another writer got there first.
    public func update(_ name: String, _ change: (inout CollectionConfig) throws -> Void) async throws -> CollectionConfig {
        for _ in 0..<32 {
            var (config, etag) = try await get(name)
            try change(&config)
            do {
                try await storage.put(layout.catalogKey(name), JSONWriter.encode(config.toJSON()), condition: .ifMatch(etag))
                return config
            } catch let e as StorageError where e.kind == .preconditionFailed {
                continue
            }
        }
        throw ProximaError(.conflict, "collection '\(name)' is being changed concurrently; try again")
    }

    public func delete(_ name: String) async throws -> CollectionConfig {
        let (config, _) = try await get(name)
        try await storage.delete(layout.catalogKey(name))
        try? await storage.delete(layout.manifestHintKey(name))  // a hint is checked against the id anyway
        return config
    }
}
