import ArgumentParser
import ProximaCore

struct Collections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, show and delete collections on a running server.",
        subcommands: [Create.self, List.self, Show.self, Delete.self])

    struct Connection: ParsableArguments {
        @Option(help: "Server URL (default $PROXIMADB_URL or http://127.0.0.1:5678).")
        var url: String?
    }

    struct Create: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        @Argument var name: String
        @Option var dimension: Int
        @Option(help: "cosine, euclidean, dot_product, manhattan, hamming, jaccard") var metric: String = "cosine"
        @Option(help: "flat, hnsw, ivf, pq") var index: String?
        @Option(help: "A field to filter on, as name or name:type (repeatable).") var field: [String] = []
        @Option var description: String?

        func run() async throws {
            var body: [String: JSONValue] = ["name": .string(name), "dimension": .int(Int64(dimension)), "distance_metric": .string(metric)]
            if let index { body["indexing_algorithm"] = .string(index) }
            if let description { body["description"] = .string(description) }
            if !field.isEmpty {
                body["filterable_fields"] = .array(field.map { f in
                    let parts = f.split(separator: ":", maxSplits: 1).map(String.init)
                    return .object(["name": .string(parts[0]), "type": .string(parts.count > 1 ? parts[1] : "string")])
                })
            }
            printJSON(try await Client(url: connection.url).call(.POST, "/collections", body: JSONWriter.encode(.object(body))))
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        func run() async throws {
            let data = try await Client(url: connection.url).call(.GET, "/collections")
            for c in data.array ?? [] {
                print("\(c["name"]?.string ?? "?")\tdim=\(c["dimension"]?.integer ?? 0)\tmetric=\(c["distance_metric"]?.string ?? "?")")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            printJSON(try await Client(url: connection.url).call(.GET, "/collections/\(name)"))
        }
    }

    struct Delete: AsyncParsableCommand {
        @OptionGroup var connection: Connection
        @Argument var name: String
        func run() async throws {
            printJSON(try await Client(url: connection.url).call(.DELETE, "/collections/\(name)"))
        }
    }
}
