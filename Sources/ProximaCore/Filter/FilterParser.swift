/// Turns the JSON form of a filter into a `Filter`, or a 400 `invalid_filter`.
extension Filter {
    public static let maxDepth = 16
    public static let maxNodes = 1_000
    public static let maxRegexLength = 512

    public static func parse(_ json: JSONValue) throws(ProximaError) -> Filter {
        var nodes = 0
        return try parseObject(json, depth: 0, nodes: &nodes)
    }

    private static func invalid(_ message: String) -> ProximaError { ProximaError(.invalidFilter, message) }

    private static func parseObject(_ json: JSONValue, depth: Int, nodes: inout Int) throws(ProximaError) -> Filter {
        guard depth <= maxDepth else { throw invalid("filter nested deeper than \(maxDepth) levels") }
        guard case .object(let object) = json else {
            throw invalid("a filter must be a JSON object, not \(json.typeName)")
        }
        var parts: [Filter] = []
        for key in object.keys.sorted() {
            nodes += 1
            guard nodes <= maxNodes else { throw invalid("filter has more than \(maxNodes) conditions") }
            let value = object[key]!
            switch key {
            case "$and", "$or":
                guard case .array(let items) = value, !items.isEmpty else {
                    throw invalid("\(key) takes a non-empty array of filters")
                }
                var children: [Filter] = []
                for item in items { children.append(try parseObject(item, depth: depth + 1, nodes: &nodes)) }
                parts.append(key == "$and" ? .and(children) : .or(children))
            case "$not":
                parts.append(.not(try parseObject(value, depth: depth + 1, nodes: &nodes)))
            default:
                guard !key.hasPrefix("$") else { throw invalid("unknown logical operator \(key)") }
                guard !key.isEmpty, !key.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty)
                else { throw invalid("invalid field name '\(key)'") }
                let path = key.split(separator: ".").map(String.init)
                parts.append(try parseField(path: path, value, depth: depth + 1, nodes: &nodes))
            }
        }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    private static func parseField(path: [String], _ value: JSONValue, depth: Int, nodes: inout Int) throws(ProximaError) -> Filter {
        guard case .object(let ops) = value, ops.keys.contains(where: { $0.hasPrefix("$") }) else {
            // Bare value (or a plain object): equality.
            return .field(path: path, .eq(value))
        }
        guard ops.keys.allSatisfy({ $0.hasPrefix("$") }) else {
            throw invalid("field '\(path.joined(separator: "."))' mixes operators and plain keys")
        }
        var conditions: [Filter] = []
        for op in ops.keys.sorted() {
            nodes += 1
            guard nodes <= maxNodes else { throw invalid("filter has more than \(maxNodes) conditions") }
            let operand = ops[op]!
            let condition: FieldCondition
            switch op {
            case "$eq": condition = .eq(operand)
            case "$ne": condition = .ne(operand)
            case "$gt", "$gte", "$lt", "$lte":
                guard operand.number != nil || operand.string != nil else {
                    throw invalid("\(op) takes a number or a string, not \(operand.typeName)")
                }
                condition = op == "$gt" ? .gt(operand) : op == "$gte" ? .gte(operand) : op == "$lt" ? .lt(operand) : .lte(operand)
            case "$in", "$nin":
                guard case .array(let options) = operand else { throw invalid("\(op) takes an array") }
                condition = op == "$in" ? .isIn(options) : .notIn(options)
            case "$contains":
                guard operand.array == nil, operand.object == nil else { throw invalid("$contains takes a scalar") }
                condition = .contains(operand)
            case "$startswith", "$endswith":
                guard case .string(let s) = operand else { throw invalid("\(op) takes a string") }
                condition = op == "$startswith" ? .startsWith(s) : .endsWith(s)
            case "$regex":
                guard case .string(let pattern) = operand else { throw invalid("$regex takes a string") }
                guard pattern.utf8.count <= maxRegexLength else { throw invalid("$regex pattern longer than \(maxRegexLength) bytes") }
                do { condition = .regex(try FilterRegex(pattern)) } catch {
                    throw invalid("$regex pattern does not compile: \(error)")
                }
            case "$exists":
                guard case .bool(let b) = operand else { throw invalid("$exists takes true or false") }
                condition = .exists(b)
            case "$not":
                // Field-level negation: {"x": {"$not": {"$gt": 3}}}.
                let inner = try parseField(path: path, operand.object != nil ? operand : .object(["$eq": operand]), depth: depth + 1, nodes: &nodes)
                conditions.append(.not(inner))
                continue
            default:
                throw invalid("unknown operator \(op)")
            }
            conditions.append(.field(path: path, condition))
        }
        return conditions.count == 1 ? conditions[0] : .and(conditions)
    }
}
