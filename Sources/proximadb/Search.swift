import ArgumentParser
import ProximaCore

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Search a collection with a query vector.")

    @OptionGroup var connection: Collections.Connection
    @Argument var collection: String
    @Option(help: "The query as a JSON array, e.g. '[0.1, 0.2, 0.3]'.") var vector: String
    @Option var k: Int = 10
    @Option(help: "A filter as JSON, e.g. '{\"genre\": \"drama\"}'.") var filter: String?
    @Flag(help: "Include the stored vectors in the answer.") var includeVectors = false

    func run() async throws {
        var body: [String: JSONValue] = ["vector": try JSONParser.parse(vector), "k": .int(Int64(k)), "include_vectors": .bool(includeVectors)]
        if let filter { body["filter"] = try JSONParser.parse(filter) }
        let data = try await Client(url: connection.url).call(
            .POST, "/collections/\(collection)/search", body: JSONWriter.encode(.object(body)))
        for hit in data["results"]?.array ?? [] {
            let meta = hit["metadata"].map { JSONWriter.string($0) } ?? ""
            print("\(hit["rank"]?.integer ?? 0)\t\(hit["id"]?.string ?? "")\tscore=\(hit["score"]?.number ?? 0)\t\(meta)")
        }
    }
}
