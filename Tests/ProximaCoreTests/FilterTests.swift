import Testing
@testable import ProximaCore

@Suite struct FilterTests {
    let doc: [String: JSONValue] = [
        "genre": "drama", "year": 2021, "rating": 7.5, "tags": ["a", "b"], "lang": "en", "title": "The Long Night",
        "nested": ["level": 3], "flag": true,
    ]

    func match(_ filter: String) throws -> Bool {
        try Filter.parse(try JSONParser.parse(filter)).matches(doc)
    }

    @Test func operators() throws {
        #expect(try match(#"{"genre": "drama"}"#))
        #expect(try !match(#"{"genre": "comedy"}"#))
        #expect(try match(#"{"year": {"$gte": 2020, "$lt": 2022}}"#))
        #expect(try match(#"{"year": 2021.0}"#))
        #expect(try match(#"{"rating": {"$gt": 7}}"#))
        #expect(try match(#"{"lang": {"$in": ["fr", "en"]}}"#))
        #expect(try match(#"{"lang": {"$nin": ["fr", "de"]}}"#))
        #expect(try match(#"{"tags": "a"}"#))
        #expect(try match(#"{"tags": {"$contains": "b"}}"#))
        #expect(try match(#"{"title": {"$contains": "Long"}}"#))
        #expect(try match(#"{"title": {"$startswith": "The"}}"#))
        #expect(try match(#"{"title": {"$endswith": "Night"}}"#))
        #expect(try match(#"{"title": {"$regex": "^The\\s+L"}}"#))
        #expect(try match(#"{"genre": {"$exists": true}, "missing": {"$exists": false}}"#))
        #expect(try match(#"{"nested.level": 3}"#))
        #expect(try match(#"{"$or": [{"lang": "fr"}, {"flag": true}]}"#))
        #expect(try match(#"{"$not": {"genre": "comedy"}}"#))
        #expect(try match(#"{"year": {"$not": {"$gt": 2022}}}"#))
        #expect(try match(#"{"genre": {"$ne": "comedy"}}"#))
        #expect(try match(#"{}"#))
    }

    @Test func typeMismatchMatchesNothing() throws {
        #expect(try !match(#"{"year": {"$gt": "2000"}}"#))
        #expect(try !match(#"{"genre": {"$ne": 5}}"#))
        #expect(try !match(#"{"missing": {"$ne": 1}}"#))
        #expect(try !match(#"{"year": "2021"}"#))
    }

    @Test(arguments: [
        #"[]"#, #""x""#, #"{"$foo": 1}"#, #"{"a": {"$gt": [1]}}"#, #"{"a": {"$in": 3}}"#, #"{"a": {"$regex": "("}}"#,
        #"{"a": {"$exists": 1}}"#, #"{"$and": []}"#, #"{"$or": {}}"#, #"{"a": {"$eq": 1, "b": 2}}"#, #"{"a..b": 1}"#,
        #"{"a": {"$bogus": 1}}"#, #"{"a": {"$startswith": 1}}"#,
    ])
    func invalidFilters(_ text: String) throws {
        let json = try JSONParser.parse(text)
        #expect(throws: ProximaError.self) { try Filter.parse(json) }
    }
}
