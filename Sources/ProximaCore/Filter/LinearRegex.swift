/// A regular expression matched in time linear in the input: a Thompson NFA
/// simulated one Unicode scalar at a time (Pike's VM without captures), as
/// RE2 does. `$regex` patterns come from whoever can call the API; a
/// backtracking engine lets one pattern like `(a+)+$` spend minutes on a
/// short string, this one spends O(input × pattern) whatever the pattern.
///
/// Syntax: literals; `.`; classes `[a-z]`, `[^…]`; `\d \w \s \D \W \S`; escapes
/// `\n \t \r \f \v \xHH \u{…}` and `\` before punctuation; anchors `^ $ \b \B`;
/// groups `( )`, `(?: )`; alternation `|`; quantifiers `* + ? {n} {n,} {n,m}`
/// and their lazy forms (the same for matching); a leading `(?i)` for case-
/// insensitive matching. Backreferences and lookaround need backtracking and
/// are refused. The pattern matches anywhere in the input unless anchored.
public struct LinearRegex: Sendable {
    public struct SyntaxError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Programs past this many instructions are refused (bounded repeats multiply size).
    public static let maxInstructions = 20_000

    let program: [Instruction]
    let caseInsensitive: Bool
    /// The pattern begins with `^`: threads start at position 0 only.
    let anchoredAtStart: Bool

    public init(_ pattern: String) throws(SyntaxError) {
        var parser = Parser(Array(pattern.unicodeScalars))
        if parser.take("(?i)") { caseInsensitive = true } else { caseInsensitive = false }
        parser.caseInsensitive = caseInsensitive
        let node = try parser.parseAlternation()
        guard parser.atEnd else { throw SyntaxError(description: "unbalanced ')' at offset \(parser.index)") }
        var compiler = Compiler()
        try compiler.emit(node)
        compiler.program.append(.match)
        program = compiler.program
        if case .assert(.start) = program[0] { anchoredAtStart = true } else { anchoredAtStart = false }
    }

    /// Whether the pattern matches somewhere in `text`.
    public func matches(_ text: String) -> Bool {
        let input = Array(text.unicodeScalars)
        var current = ThreadList(capacity: program.count)
        var next = ThreadList(capacity: program.count)
        var stack: [Int] = []
        stack.reserveCapacity(program.count)
        for position in 0...input.count {
            // Unanchored: a new thread starts at every position (none once a `^` start can no longer hold).
            if position == 0 || !anchoredAtStart, addThread(&current, 0, input, position, &stack) { return true }
            if current.items.isEmpty, anchoredAtStart { return false }
            if position == input.count { break }
            let c = input[position]
            next.clear()
            for pc in current.items {
                switch program[pc] {
                case .scalar(let class_):
                    if class_.contains(c, caseInsensitive: caseInsensitive), addThread(&next, pc + 1, input, position + 1, &stack) {
                        return true
                    }
                default: break
                }
            }
            swap(&current, &next)
            if current.items.isEmpty { current.clear() }
        }
        return false
    }

    /// Follows the empty transitions from `pc`; true once `match` is reached.
    private func addThread(
        _ list: inout ThreadList, _ start: Int, _ input: [Unicode.Scalar], _ position: Int, _ stack: inout [Int]
    ) -> Bool {
        stack.removeAll(keepingCapacity: true)
        stack.append(start)
        while let pc = stack.popLast() {
            guard list.insert(pc) else { continue }
            switch program[pc] {
            case .match: return true
            case .scalar: break
            case .jump(let to): stack.append(to)
            case .split(let a, let b):
                stack.append(b)
                stack.append(a)
            case .assert(let anchor):
                if anchor.holds(input, position) { stack.append(pc + 1) }
            }
        }
        return false
    }
}

// MARK: program

enum Instruction: Sendable {
    case scalar(ScalarClass)
    case split(Int, Int)
    case jump(Int)
    case assert(Anchor)
    case match
}

enum Anchor: Sendable {
    case start, end, wordBoundary, notWordBoundary

    func holds(_ input: [Unicode.Scalar], _ i: Int) -> Bool {
        switch self {
        case .start: return i == 0
        case .end: return i == input.count
        case .wordBoundary, .notWordBoundary:
            let before = i > 0 && ScalarClass.isWord(input[i - 1])
            let after = i < input.count && ScalarClass.isWord(input[i])
            return (before != after) == (self == .wordBoundary)
        }
    }
}

/// A set of scalars: ranges and Unicode categories, optionally negated.
struct ScalarClass: Sendable {
    /// `\d`, `\w`, `\s` as Unicode defines them (as Swift's Regex does): decimal
    /// digits of any script, letters/marks/digits/connectors, white space.
    enum Category: Sendable {
        case digit, word, space

        func contains(_ c: Unicode.Scalar) -> Bool {
            let p = c.properties
            switch self {
            case .digit: return p.numericType == .decimal
            case .word:
                return p.isAlphabetic || p.numericType == .decimal || p.generalCategory == .connectorPunctuation
                    || p.generalCategory == .nonspacingMark || p.generalCategory == .spacingMark || p.generalCategory == .enclosingMark
            case .space: return p.isWhitespace
            }
        }
    }

    var ranges: [ClosedRange<UInt32>]
    var categories: [Category] = []
    var negated = false

    static func single(_ c: Unicode.Scalar) -> ScalarClass { ScalarClass(ranges: [c.value...c.value]) }
    static let digit = ScalarClass(ranges: [], categories: [.digit])
    static let word = ScalarClass(ranges: [], categories: [.word])
    static let space = ScalarClass(ranges: [], categories: [.space])
    /// `.`: anything but a line break.
    static let dot = ScalarClass(ranges: [10...10, 13...13], negated: true)

    /// A single scalar, if that is all this class is.
    var singleScalar: UInt32? {
        ranges.count == 1 && ranges[0].count == 1 && categories.isEmpty && !negated ? ranges[0].lowerBound : nil
    }

    static func isWord(_ c: Unicode.Scalar) -> Bool { Category.word.contains(c) }

    func contains(_ c: Unicode.Scalar, caseInsensitive: Bool) -> Bool {
        var hit = ranges.contains { $0.contains(c.value) } || categories.contains { $0.contains(c) }
        if !hit, caseInsensitive {
            for variant in [c.properties.lowercaseMapping, c.properties.uppercaseMapping] {
                let scalars = variant.unicodeScalars
                if scalars.count == 1, let v = scalars.first, ranges.contains(where: { $0.contains(v.value) }) {
                    hit = true
                    break
                }
            }
        }
        return hit != negated
    }
}

/// The threads alive at one position: a sparse set, so clearing is O(1) and order is kept.
struct ThreadList {
    var items: [Int] = []
    var dense: [Int]
    var generation: [Int]
    var current = 1

    init(capacity: Int) {
        dense = Array(repeating: 0, count: capacity)
        generation = Array(repeating: 0, count: capacity)
    }

    mutating func insert(_ pc: Int) -> Bool {
        if generation[pc] == current { return false }
        generation[pc] = current
        items.append(pc)
        return true
    }

    mutating func clear() {
        items.removeAll(keepingCapacity: true)
        current += 1
    }
}

// MARK: parsing

indirect enum RegexNode {
    case empty
    case scalar(ScalarClass)
    case anchor(Anchor)
    case concat([RegexNode])
    case alternation([RegexNode])
    case repeated(RegexNode, min: Int, max: Int?)
}

struct Parser {
    let s: [Unicode.Scalar]
    var index = 0
    var caseInsensitive = false
    var depth = 0

    init(_ s: [Unicode.Scalar]) { self.s = s }

    var atEnd: Bool { index >= s.count }
    func peek() -> Unicode.Scalar? { index < s.count ? s[index] : nil }

    mutating func take(_ literal: String) -> Bool {
        let l = Array(literal.unicodeScalars)
        guard index + l.count <= s.count, Array(s[index..<(index + l.count)]) == l else { return false }
        index += l.count
        return true
    }

    func error(_ what: String) -> LinearRegex.SyntaxError { LinearRegex.SyntaxError(description: "\(what) at offset \(index)") }

    mutating func parseAlternation() throws(LinearRegex.SyntaxError) -> RegexNode {
        depth += 1
        defer { depth -= 1 }
        guard depth < 100 else { throw error("groups nested too deeply") }
        var branches = [try parseConcat()]
        while peek() == "|" {
            index += 1
            branches.append(try parseConcat())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    mutating func parseConcat() throws(LinearRegex.SyntaxError) -> RegexNode {
        var items: [RegexNode] = []
        while let c = peek(), c != "|", c != ")" {
            var atom = try parseAtom()
            while let q = peek(), q == "*" || q == "+" || q == "?" || q == "{" {
                let (min, max) = try parseQuantifier()
                if case .anchor = atom { throw error("a quantifier needs something to repeat") }
                atom = .repeated(atom, min: min, max: max)
                if peek() == "?" { index += 1 }  // lazy: the same set of matches
                if let q2 = peek(), q2 == "*" || q2 == "+" || q2 == "{" { throw error("nested quantifier") }
            }
            items.append(atom)
        }
        return items.count == 1 ? items[0] : (items.isEmpty ? .empty : .concat(items))
    }

    mutating func parseQuantifier() throws(LinearRegex.SyntaxError) -> (Int, Int?) {
        let c = s[index]
        index += 1
        switch c {
        case "*": return (0, nil)
        case "+": return (1, nil)
        case "?": return (0, 1)
        default:
            let min = try number()
            var max: Int? = min
            if peek() == "," {
                index += 1
                max = peek() == "}" ? nil : try number()
            }
            guard peek() == "}" else { throw error("unclosed '{'") }
            index += 1
            if let max, max < min { throw error("{n,m} with m < n") }
            guard min <= 1000, (max ?? 0) <= 1000 else { throw error("repeat counts above 1000") }
            return (min, max)
        }
    }

    mutating func number() throws(LinearRegex.SyntaxError) -> Int {
        var n = 0, digits = 0
        while let c = peek(), ("0"..."9").contains(c), digits < 5 {
            n = n * 10 + Int(c.value - 48)
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw error("a number expected in '{}'") }
        return n
    }

    mutating func parseAtom() throws(LinearRegex.SyntaxError) -> RegexNode {
        let c = s[index]
        index += 1
        switch c {
        case ".": return .scalar(.dot)
        case "^": return .anchor(.start)
        case "$": return .anchor(.end)
        case "(":
            if take("?:") {
            } else if peek() == "?" {
                throw error("lookaround, named groups and inline flags other than a leading (?i) are not supported")
            }
            let inner = try parseAlternation()
            guard peek() == ")" else { throw error("unclosed '('") }
            index += 1
            return inner
        case "[": return .scalar(try parseClass())
        case "\\": return try parseEscape(inClass: false)
        case "*", "+", "?", "{": throw error("'\(c)' has nothing to repeat")
        case ")": throw error("unbalanced ')'")
        default: return .scalar(.single(c))
        }
    }

    mutating func parseClass() throws(LinearRegex.SyntaxError) -> ScalarClass {
        var result = ScalarClass(ranges: [])
        if peek() == "^" {
            result.negated = true
            index += 1
        }
        var first = true
        while true {
            guard let c = peek() else { throw error("unclosed '['") }
            if c == "]", !first {
                index += 1
                return result
            }
            first = false
            index += 1
            var low: UInt32
            if c == "\\" {
                switch try parseEscape(inClass: true) {
                case .scalar(let cls) where cls.singleScalar != nil: low = cls.singleScalar!
                case .scalar(let cls):
                    // \d, \w, \s inside a class; their negations cannot be merged into one set.
                    guard !cls.negated else { throw error("\\D, \\W and \\S inside [] are not supported") }
                    result.categories += cls.categories
                    continue
                default: throw error("an anchor inside []")
                }
            } else {
                low = c.value
            }
            if peek() == "-", index + 1 < s.count, s[index + 1] != "]" {
                index += 1
                var high = s[index].value
                index += 1
                if high == 92 {  // a backslash
                    guard case .scalar(let cls) = try parseEscape(inClass: true), let single = cls.singleScalar else {
                        throw error("a class cannot end a range")
                    }
                    high = single
                }
                guard low <= high else { throw error("a range out of order") }
                result.ranges.append(low...high)
            } else {
                result.ranges.append(low...low)
            }
        }
    }

    mutating func parseEscape(inClass: Bool) throws(LinearRegex.SyntaxError) -> RegexNode {
        guard let c = peek() else { throw error("a trailing backslash") }
        index += 1
        switch c {
        case "d": return .scalar(.digit)
        case "D": return .scalar(ScalarClass(ranges: [], categories: [.digit], negated: true))
        case "w": return .scalar(.word)
        case "W": return .scalar(ScalarClass(ranges: [], categories: [.word], negated: true))
        case "s": return .scalar(.space)
        case "S": return .scalar(ScalarClass(ranges: [], categories: [.space], negated: true))
        case "b" where !inClass: return .anchor(.wordBoundary)
        case "B" where !inClass: return .anchor(.notWordBoundary)
        case "A" where !inClass: return .anchor(.start)
        case "z" where !inClass: return .anchor(.end)
        case "n": return .scalar(.single("\n"))
        case "t": return .scalar(.single("\t"))
        case "r": return .scalar(.single("\r"))
        case "f": return .scalar(.single("\u{0C}"))
        case "v": return .scalar(.single("\u{0B}"))
        case "0": return .scalar(.single("\0"))
        case "x", "u":
            var hex = ""
            if peek() == "{" {
                index += 1
                while let h = peek(), h != "}", hex.count < 8 {
                    hex.unicodeScalars.append(h)
                    index += 1
                }
                guard peek() == "}" else { throw error("unclosed \\\(c){") }
                index += 1
            } else {
                for _ in 0..<(c == "x" ? 2 : 4) {
                    guard let h = peek() else { break }
                    hex.unicodeScalars.append(h)
                    index += 1
                }
            }
            guard let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else { throw error("a bad \\\(c) escape") }
            return .scalar(.single(scalar))
        default:
            if c.properties.isAlphabetic || ("1"..."9").contains(c) {
                throw error("'\\\(c)' is not supported (backreferences and other escapes)")
            }
            return .scalar(.single(c))
        }
    }
}

struct Compiler {
    var program: [Instruction] = []

    mutating func append(_ i: Instruction) throws(LinearRegex.SyntaxError) {
        guard program.count < LinearRegex.maxInstructions else {
            throw LinearRegex.SyntaxError(description: "the pattern is too large (more than \(LinearRegex.maxInstructions) steps)")
        }
        program.append(i)
    }

    mutating func emit(_ node: RegexNode) throws(LinearRegex.SyntaxError) {
        switch node {
        case .empty: break
        case .scalar(let c): try append(.scalar(c))
        case .anchor(let a): try append(.assert(a))
        case .concat(let items): for item in items { try emit(item) }
        case .alternation(let branches):
            var jumps: [Int] = []
            for (i, branch) in branches.enumerated() {
                if i < branches.count - 1 {
                    let split = program.count
                    try append(.split(split + 1, -1))
                    try emit(branch)
                    jumps.append(program.count)
                    try append(.jump(-1))
                    program[split] = .split(split + 1, program.count)
                } else {
                    try emit(branch)
                }
            }
            for j in jumps { program[j] = .jump(program.count) }
        case .repeated(let body, let min, let max):
            for _ in 0..<min { try emit(body) }
            if let max {
                // Each optional copy may be skipped to the end.
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(program.count)
                    try append(.split(program.count + 1, -1))
                    try emit(body)
                }
                for s in splits { program[s] = .split(s + 1, program.count) }
            } else {
                let loop = program.count
                try append(.split(loop + 1, -1))
                try emit(body)
                try append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }
}
