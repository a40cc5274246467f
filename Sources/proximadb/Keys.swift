import ArgumentParser
import Foundation
import ProximaAuth
import ProximaCloud
import ProximaCore
import ProximaEngine

/// `proximadb keys`: API keys, straight on the store (no server needed), so
/// the first admin key of a deployment can be made before anything listens.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API keys in the store.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; prints the secret key alone on standard output.")
        @OptionGroup var store: StoreOptions
        @Option(help: "The tenant the key acts for.") var tenant: String
        @Option(help: "read, write or admin.") var role: String
        @Option(help: "Only collections matching this glob (docs_*).") var collections: String?
        @Option(help: "Lifetime: 90d, 12h, 30m, 45s or seconds.") var expiresIn: String?
        @Option(help: "Quota: collections the tenant may hold.") var maxCollections: Int?
        @Option(help: "Quota: vectors the tenant may hold.") var maxVectors: Int?
        @Option(help: "Quota: bytes of vectors the tenant may hold.") var maxBytes: Int?

        func run() async throws {
            guard let role = Role(rawValue: role) else { throw ValidationError("--role is read, write or admin") }
            let tenant = try Tenant(self.tenant)
            let pattern = try collections.map { try CollectionPattern($0) }
            let seconds = try expiresIn.map { try Self.seconds($0) }
            let (key, record) = try await KeyStore(storage: try StorageURL.open(store.storage)).create(
                tenant: tenant, role: role, collections: pattern, expiresInSeconds: seconds,
                quotas: Quotas(maxCollections: maxCollections, maxVectors: maxVectors, maxBytes: maxBytes))
            FileHandle.standardError.write(Data("created key \(record.id) for tenant \(tenant), role \(role.rawValue)\(pattern.map { ", collections \($0)" } ?? "")\(record.expiresAtMicros.map { ", expires \(Timestamp.rfc3339(micros: $0))" } ?? "")\n".utf8))
            print(key)
        }

        static func seconds(_ text: String) throws -> Int64 {
            let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
            var digits = Substring(text), unit: Int64 = 1
            if let last = text.last, let u = units[last] {
                digits = text.dropLast()
                unit = u
            }
            guard let n = Int64(digits), n > 0, n < Int64.max / unit / 1_000_000 else {
                throw ValidationError("--expires-in is a positive duration: 90d, 12h, 30m, 45s or seconds")
            }
            return n * unit
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var store: StoreOptions
        @Option(help: "Only this tenant's keys.") var tenant: String?

        func run() async throws {
            let records = try await KeyStore(storage: try StorageURL.open(store.storage)).load().values
                .filter { tenant == nil || $0.tenant.name == tenant }.sorted { $0.createdAtMicros < $1.createdAtMicros }
            printJSON(.array(records.map { $0.json(includingHash: false) }))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by its id or by the key itself.")
        @OptionGroup var store: StoreOptions
        @Argument(help: "The key's id, or the key.") var keyOrId: String

        func run() async throws {
            let record = try await KeyStore(storage: try StorageURL.open(store.storage)).revoke(keyOrId)
            FileHandle.standardError.write(Data("revoked key \(record.id) of tenant \(record.tenant)\n".utf8))
        }
    }
}
