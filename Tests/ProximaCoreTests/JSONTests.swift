import Testing
@testable import ProximaCore

@Suite struct JSONParserTests {
    @Test func parsesScalarsAndNesting() throws {
        let v = try JSONParser.parse(#"{"a": [1, -2, 3.5, 1e3, true, false, null], "b": {"c": "d\u00e9\n"}}"#)
        #expect(v["a"] == .array([.int(1), .int(-2), .double(3.5), .double(1000), .bool(true), .bool(false), .null]))
        #expect(v["b"]?["c"] == .string("dé\n"))
    }

    @Test func numbersMatchTheStandardLibrary() throws {
        var rng = SplitMix64(seed: 20261203)
        for _ in 0..<5000 {
            let d = Double.random(in: -1000...1000, using: &rng) * pow10(Int.random(in: -30...30, using: &rng))
            let text = "\(d)"
            let parsed = try JSONParser.parse(text)
            #expect(parsed.number == Double(text), "\(text)")
        }
        // Random 15-19 digit mantissas with exponents around the extended-precision window.
        for _ in 0..<20000 {
            let digits = Int.random(in: 15...19, using: &rng)
            var m = String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<digits { m += String(Int.random(in: 0...9, using: &rng)) }
            let text = "\(m)e\(Int.random(in: -45...20, using: &rng))"
            #expect(try JSONParser.parse(text).number == Double(text), "\(text)")
        }
        // Float32 values as Python prints them (17 significant digits).
        for _ in 0..<5000 {
            let f = Float.random(in: -10...10, using: &rng)
            let text = "\(Double(f))"
            #expect(try JSONParser.parse(text).number == Double(f), "\(text)")
        }
        for text in ["9007199254740993.0", "4503599627370496.5", "1.00000000000000011102230246251565404236316680908203125",
                     "0.1", "0.30000000000000004", "123456789012345678901234567890", "-0.0", "2.2250738585072014e-308", "1.7976931348623157e308", "9007199254740993"] {
            #expect(try JSONParser.parse(text).number == Double(text), "\(text)")
        }
        #expect(try JSONParser.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(Int64.min))
    }

    func pow10(_ e: Int) -> Double {
        var p = 1.0
        for _ in 0..<abs(e) { p *= 10 }
        return e < 0 ? 1 / p : p
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":}", "NaN", "Infinity", "-", "01", "1.", "1e", ".5", "\"abc", "\"\\x\"", "\"\\ud800\"",
        "{\"a\" 1}", "[1 2]", "tru", "nul", "1e999", "\"a\u{01}b\"", "{} x", "[" + String(repeating: "[", count: 100),
    ])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }

    @Test func surrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
    }

    @Test func writerRoundTrips() throws {
        let v: JSONValue = ["s": "quote\" back\\ nl\n ctl\u{01} é😀", "n": [1, 2.5, -0.001, 1e20], "b": true, "z": nil, "o": ["x": []]]
        let text = JSONWriter.string(v)
        #expect(try JSONParser.parse(text) == v)
    }

    @Test func floatsPrintShortest() {
        #expect(JSONWriter.string(.float(0.1)) == "0.1")
        #expect(JSONWriter.string(.float(3)) == "3")
        #expect(JSONWriter.string(.float(.nan)) == "null")
    }
}

@Suite struct TimestampTests {
    @Test func formatsAndParses() {
        #expect(Timestamp.rfc3339(micros: 0) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.rfc3339(micros: 1_764_093_845_123_456) == "2025-11-25T18:04:05.123456Z")
        #expect(Timestamp.parseRFC3339("2025-11-25T18:04:05.123456Z") == 1_764_093_845_123_456)
        #expect(Timestamp.parseRFC3339("2025-11-25T20:04:05+02:00") == 1_764_093_845_000_000)
        #expect(Timestamp.parseRFC3339("2000-02-29T00:00:00Z") == 951_782_400_000_000)
        for bad in ["", "2025-11-25", "2025-13-01T00:00:00Z", "2025-11-25T18:04:05", "2025-11-25T18:04:05.Z", "x025-11-25T18:04:05Z"] {
            #expect(Timestamp.parseRFC3339(bad) == nil, "\(bad)")
        }
        var rng = SplitMix64(seed: 20261203)
        for _ in 0..<1000 {
            let t = Int64.random(in: 0...4_000_000_000_000_000, using: &rng)
            #expect(Timestamp.parseRFC3339(Timestamp.rfc3339(micros: t)) == t)
        }
    }
}
