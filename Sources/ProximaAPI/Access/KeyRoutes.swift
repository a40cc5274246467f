import Hummingbird
import ProximaAuth
import ProximaCore
import ProximaEngine

/// `/keys`: an unrestricted admin manages its own tenant's API keys over
/// HTTP (the CLI's `proximadb keys` does the same straight on the store).
struct KeyRoutes: Sendable {
    let store: KeyStore
    let keys: KeyRing
    let decoder: RequestDecoder

    func add<Context: ProximaRequestContext>(
        to router: Router<Context>, principal: @escaping @Sendable (Context, Role, String?) throws -> Principal
    ) {
        @Sendable func admin(_ context: Context) throws -> Principal {
            let who = try principal(context, .admin, nil)
            guard who.collections == nil else { throw ProximaError(.forbidden, "only an admin credential for every collection manages keys") }
            return who
        }
        router.post("/keys") { request, context in
            let who = try admin(context)
            let body = try await decoder.body(request)
            guard case .object(let o) = body else { throw ProximaError(.invalidRequest, "the body is a JSON object") }
            for key in o.keys where !["role", "collections", "expires_in_seconds", "quotas"].contains(key) {
                throw ProximaError(.invalidRequest, "unknown field '\(key)' (role, collections, expires_in_seconds, quotas)")
            }
            guard let role = o["role"]?.string.flatMap(Role.init(rawValue:)) else {
                throw ProximaError(.invalidRequest, "role is one of read, write, admin")
            }
            var pattern: CollectionPattern?
            switch o["collections"] {
            case nil, .null?: break
            case .string(let glob)?: pattern = try CollectionPattern(glob)
            default: throw ProximaError(.invalidRequest, "collections is a glob string such as docs_*")
            }
            var expires: Int64?
            if let e = o["expires_in_seconds"], !e.isNull {
                guard let s = e.integer, s > 0 else { throw ProximaError(.invalidRequest, "expires_in_seconds is a positive integer") }
                expires = s
            }
            let quotas = try Quotas(parsing: o["quotas"] ?? .null)
            let (key, record) = try await convertingErrors {
                try await store.create(tenant: who.tenant, role: role, collections: pattern, expiresInSeconds: expires, quotas: quotas)
            }
            keys.invalidate()
            guard case .object(var answer) = record.json(includingHash: false) else { return Envelope.success(.null) }
            answer["key"] = .string(key)
            return Envelope.success(.object(answer), status: .created)
        }
        router.get("/keys") { _, context in
            let who = try admin(context)
            let all = try await convertingErrors { try await store.load() }
            let mine = all.values.filter { $0.tenant == who.tenant }.sorted { $0.createdAtMicros < $1.createdAtMicros }
            return Envelope.success(.array(mine.map { $0.json(includingHash: false) }))
        }
        router.delete("/keys/:id") { _, context in
            let who = try admin(context)
            let id = context.parameters.get("id") ?? ""
            guard APIKey.isId(id) else { throw ProximaError(.notFound, "no key with id \(id)") }
            let record = try await convertingErrors { try await store.revoke(id, tenant: who.tenant) }
            keys.invalidate()
            return Envelope.success(record.json(includingHash: false))
        }
    }
}
