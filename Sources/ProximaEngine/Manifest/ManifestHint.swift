import ProximaCloud
import ProximaCore
import ProximaFormat

/// A copy of a collection's newest manifest kept beside its catalog entry
/// (`catalog/<tenant>/<name>.manifest`), so a process opening the collection
/// reads both in one round trip, by name, and opens the segments the copy
/// names while one listing confirms that no newer manifest exists. Without it
/// the manifest waits for the catalog entry (it is found by the collection's
/// id) and for a listing: two round trips more on every cold start.
///
/// Only ever a hint: written after a manifest is published (a failed write
/// costs a cold start a round trip, never an answer), and checked against
/// the catalog entry's collection id (a collection dropped and created again
/// under the name) and the listing (a newer manifest).
struct ManifestHint: Sendable, Equatable {
    static let format = "proximadb.manifest-hint.v1"

    var collectionId: String
    var manifest: Manifest

    /// The format line, the collection id, then the manifest as published (with its own checksum).
    func encode() -> [UInt8] {
        Array("\(Self.format)\n\(collectionId)\n".utf8) + manifest.encode()
    }

    /// nil for anything that is not a whole hint: a hint is never worth an error.
    static func decode(_ bytes: [UInt8]) -> ManifestHint? {
        let newline = UInt8(ascii: "\n")
        guard let first = bytes.firstIndex(of: newline), String(decoding: bytes[..<first], as: UTF8.self) == format,
            let second = bytes[(first + 1)...].firstIndex(of: newline),
            let manifest = try? Manifest.decode(Array(bytes[(second + 1)...]))
        else { return nil }
        return ManifestHint(collectionId: String(decoding: bytes[(first + 1)..<second], as: UTF8.self), manifest: manifest)
    }

    /// The hint stored for `name`, if any and readable.
    static func read(_ storage: any CloudStorage, _ layout: StorageLayout, name: String) async -> ManifestHint? {
        guard let bytes = try? await storage.get(layout.manifestHintKey(name)).bytes else { return nil }
        return decode(bytes)
    }

    /// Records `manifest` as the newest of the collection `config` names; failures only cost later cold starts a round trip.
    static func write(_ manifest: Manifest, of config: CollectionConfig, _ storage: any CloudStorage, _ layout: StorageLayout) async {
        let hint = ManifestHint(collectionId: config.id, manifest: manifest)
        _ = try? await storage.put(layout.manifestHintKey(config.name), hint.encode(), condition: .none)
    }
}
