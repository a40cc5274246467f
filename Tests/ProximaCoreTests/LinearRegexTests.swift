import Foundation
import Testing
@testable import ProximaCore

/// `$regex` patterns: the same answers as a backtracking engine where both
/// apply, and linear time where backtracking explodes.
@Suite struct LinearRegexTests {
    func m(_ pattern: String, _ text: String) throws -> Bool { try LinearRegex(pattern).matches(text) }

    @Test func agreesWithSwiftRegexOnARandomCorpus() throws {
        let patterns = [
            "abc", "^abc", "abc$", "^$", "a.c", "a*", "a+b", "ab?c", "a{2}", "a{2,}", "a{1,3}b", "(ab)+", "(?:ab|cd)+e",
            "[a-c]+", "[^a-c]", "[a\\-z]", "\\d+", "\\w+\\s\\w+", "\\D", "^\\S+$", "x|y|z", "(a|ab)(c|bcd)(d*)", "\\bfoo\\b",
            "\\Bo", "colou?r", "[0-9]{3}-[0-9]{4}", "é+", "日本", "^.{2,4}$", "(a*)*b", "a**?".replacingOccurrences(of: "**", with: "*"),
            "[.]", "\\.", "a|", "(|a)b", "\\x41", "\\u{1F600}", "[\\d\\s]+", "^(?:\\w+\\.)*\\w+$",
        ]
        var rng = SplitMix64(seed: 7)
        let alphabet = Array("abcdxyz .-_0123456789éfoAB\n日本😀")
        for pattern in patterns {
            let ours = try LinearRegex(pattern)
            let theirs = try Regex(pattern).wordBoundaryKind(.simple)
            for _ in 0..<200 {
                let length = Int(rng.next() % 12)
                let text = String((0..<length).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
                #expect(ours.matches(text) == ((try? theirs.firstMatch(in: text)) != nil), "\(pattern) on \(text.debugDescription)")
            }
        }
    }

    @Test func caseInsensitiveWithALeadingFlag() throws {
        #expect(try m("(?i)hello", "Say HeLLo"))
        #expect(try m("(?i)[a-c]+x", "ABCX"))
        #expect(try !m("hello", "HELLO"))
    }

    @Test func refusesWhatNeedsBacktrackingAndHugePrograms() {
        for bad in ["(a)\\1", "(?=a)", "(?<=a)b", "(?<name>a)", "(", ")", "[a", "a{3,1}", "*a", "a{1001}", "(((a{1000}){1000}){1000})", "\\"] {
            #expect(throws: LinearRegex.SyntaxError.self, "\(bad)") { try LinearRegex(bad) }
        }
    }

    /// The pathological patterns of a backtracking engine take no time here.
    @Test func pathologicalPatternsStayLinear() throws {
        let text = String(repeating: "a", count: 5_000) + "!"
        for pattern in ["(a+)+$", "(a|aa)+$", "(a*)*b", "^(\\w+\\s?)*$", "(.*a){20}"] {
            let regex = try LinearRegex(pattern)
            _ = regex.matches(text)
        }
        #expect(try !m("(a+)+$", text))
        #expect(try m("(.*a){20}", text))
    }
}
