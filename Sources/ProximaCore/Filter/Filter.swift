/// A metadata filter in the Mongo-style language of `API.md`.
///
/// Semantics, stated once:
/// - a bare value means `$eq`; several keys in one object are and-ed;
/// - dotted paths (`"a.b"`) reach into nested objects;
/// - a comparison with a value of another type matches nothing (numbers are
///   one type, integer or not), and so does any field operator on a missing
///   field, except `$exists: false`; `$not` inverts a whole sub-filter;
/// - on an array field, `$eq`/`$in`/`$contains` match when an element does.
public indirect enum Filter: Sendable {
    case and([Filter])
    case or([Filter])
    case not(Filter)
    case field(path: [String], FieldCondition)

    public enum FieldCondition: Sendable {
        case eq(JSONValue)
        case ne(JSONValue)
        case gt(JSONValue), gte(JSONValue), lt(JSONValue), lte(JSONValue)
        case isIn([JSONValue])
        case notIn([JSONValue])
        case contains(JSONValue)
        case startsWith(String)
        case endsWith(String)
        case regex(FilterRegex)
        case exists(Bool)
    }

    /// True for a filter that matches everything (`{}`).
    public var isTrivial: Bool { if case .and(let parts) = self { parts.isEmpty } else { false } }

    public func matches(_ metadata: [String: JSONValue]) -> Bool {
        switch self {
        case .and(let parts): return parts.allSatisfy { $0.matches(metadata) }
        case .or(let parts): return parts.contains { $0.matches(metadata) }
        case .not(let inner): return !inner.matches(metadata)
        case .field(let path, let condition):
            return condition.matches(Self.lookup(path, in: metadata))
        }
    }

    static func lookup(_ path: [String], in metadata: [String: JSONValue]) -> JSONValue? {
        guard var value = metadata[path[0]] else { return nil }
        for key in path.dropFirst() {
            guard case .object(let o) = value, let next = o[key] else { return nil }
            value = next
        }
        return value
    }
}

extension Filter.FieldCondition {
    func matches(_ value: JSONValue?) -> Bool {
        if case .exists(let shouldExist) = self { return (value != nil) == shouldExist }
        guard let value else { return false }
        switch self {
        case .eq(let target):
            if case .array(let elements) = value, !(target.array != nil) {
                return elements.contains { $0.semanticallyEquals(target) }
            }
            return value.semanticallyEquals(target)
        case .ne(let target):
            guard Self.sameKind(value, target) else { return false }
            return !value.semanticallyEquals(target)
        case .gt(let t): return Self.compare(value, t).map { $0 > 0 } ?? false
        case .gte(let t): return Self.compare(value, t).map { $0 >= 0 } ?? false
        case .lt(let t): return Self.compare(value, t).map { $0 < 0 } ?? false
        case .lte(let t): return Self.compare(value, t).map { $0 <= 0 } ?? false
        case .isIn(let options):
            if case .array(let elements) = value {
                return elements.contains { e in options.contains { $0.semanticallyEquals(e) } }
            }
            return options.contains { $0.semanticallyEquals(value) }
        case .notIn(let options):
            guard options.contains(where: { Self.sameKind(value, $0) }) || options.isEmpty else { return false }
            if case .array(let elements) = value {
                return !elements.contains { e in options.contains { $0.semanticallyEquals(e) } }
            }
            return !options.contains { $0.semanticallyEquals(value) }
        case .contains(let needle):
            switch value {
            case .array(let elements): return elements.contains { $0.semanticallyEquals(needle) }
            case .string(let s): return needle.string.map { s.contains($0) } ?? false
            default: return false
            }
        case .startsWith(let prefix): return value.string?.hasPrefix(prefix) ?? false
        case .endsWith(let suffix): return value.string?.hasSuffix(suffix) ?? false
        case .regex(let r): return value.string.map { r.matches($0) } ?? false
        case .exists: return true  // handled above
        }
    }

    static func sameKind(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double),
            (.string, .string), (.bool, .bool), (.null, .null), (.array, .array), (.object, .object):
            return true
        case (.array, _): return true  // element-wise
        default: return false
        }
    }

    /// Ordering for numbers with numbers and strings with strings; nil otherwise.
    static func compare(_ a: JSONValue, _ b: JSONValue) -> Int? {
        if let x = a.number, let y = b.number { return x < y ? -1 : (x > y ? 1 : 0) }
        if case .string(let x) = a, case .string(let y) = b { return x < y ? -1 : (x > y ? 1 : 0) }
        return nil
    }
}

/// A compiled `$regex` pattern, matched in linear time (`LinearRegex`).
public struct FilterRegex: Sendable {
    public let pattern: String
    private let regex: LinearRegex

    public init(_ pattern: String) throws {
        self.pattern = pattern
        self.regex = try LinearRegex(pattern)
    }

    public func matches(_ s: String) -> Bool { regex.matches(s) }
}
