import ProximaCore

/// Thrift's compact protocol, the encoding of Parquet's footer and page
/// headers. Only what Parquet uses: structs, lists, i16/i32/i64, binary, bool.
enum ThriftType: UInt8 {
    case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8
    case list = 9, set = 10, map = 11, structure = 12
}

/// Writes one struct at a time; nested structs push their own field-id state.
struct ThriftWriter {
    private(set) var bytes: [UInt8] = []
    private var lastField: [Int16] = [0]

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    private mutating func fieldHeader(_ id: Int16, _ type: ThriftType) {
        let delta = id - lastField[lastField.count - 1]
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            zigzag(Int64(id))
        }
        lastField[lastField.count - 1] = id
    }

    mutating func i32(_ id: Int16, _ v: Int32) { fieldHeader(id, .i32); zigzag(Int64(v)) }
    mutating func i64(_ id: Int16, _ v: Int64) { fieldHeader(id, .i64); zigzag(v) }
    mutating func bool(_ id: Int16, _ v: Bool) { fieldHeader(id, v ? .boolTrue : .boolFalse) }
    mutating func binary(_ id: Int16, _ v: [UInt8]) { fieldHeader(id, .binary); varint(UInt64(v.count)); bytes += v }
    mutating func string(_ id: Int16, _ v: String) { binary(id, Array(v.utf8)) }

    /// A nested struct field: `body` writes its fields.
    mutating func structure(_ id: Int16, _ body: (inout ThriftWriter) -> Void) {
        fieldHeader(id, .structure)
        structBody(body)
    }

    /// A list field of `count` elements of `type`; `element` writes element i.
    mutating func list(_ id: Int16, _ type: ThriftType, count: Int, _ element: (inout ThriftWriter, Int) -> Void) {
        fieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | type.rawValue)
        } else {
            bytes.append(0xF0 | type.rawValue)
            varint(UInt64(count))
        }
        for i in 0..<count { element(&self, i) }
    }

    /// List elements: structs, strings and i32s are written without field headers.
    mutating func structBody(_ body: (inout ThriftWriter) -> Void) {
        lastField.append(0)
        body(&self)
        bytes.append(0)  // stop
        lastField.removeLast()
    }

    mutating func element(_ v: String) { varint(UInt64(v.utf8.count)); bytes += Array(v.utf8) }
    mutating func element(_ v: Int32) { zigzag(Int64(v)) }

    /// A top-level struct, closed with its stop byte.
    static func encode(_ body: (inout ThriftWriter) -> Void) -> [UInt8] {
        var w = ThriftWriter()
        body(&w)
        w.bytes.append(0)
        return w.bytes
    }
}

/// A decoded value: structs keep their fields by id, so readers pick what they
/// know and skip the rest, as Thrift's evolution rules intend.
indirect enum ThriftValue: Sendable {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case binary([UInt8])
    case list([ThriftValue])
    case structure([Int16: ThriftValue])

    var int: Int64? { if case .int(let v) = self { v } else { nil } }
    var binary: [UInt8]? { if case .binary(let v) = self { v } else { nil } }
    var string: String? { binary.map { String(decoding: $0, as: UTF8.self) } }
    var list: [ThriftValue]? { if case .list(let v) = self { v } else { nil } }
    var fields: [Int16: ThriftValue]? { if case .structure(let v) = self { v } else { nil } }
    var bool: Bool? { if case .bool(let v) = self { v } else { nil } }
}

/// Reads compact-protocol structs from a byte buffer; nesting is bounded so
/// damaged input cannot recurse without limit.
struct ThriftReader {
    let bytes: UnsafeRawBufferPointer
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    mutating func byte() throws(FormatError) -> UInt8 {
        guard offset < bytes.count else { throw FormatError("thrift: unexpected end at \(offset)") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws(FormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw FormatError("thrift: varint too long") }
        }
    }

    mutating func zigzag() throws(FormatError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    mutating func readStruct(depth: Int = 0) throws(FormatError) -> [Int16: ThriftValue] {
        guard depth < 32 else { throw FormatError("thrift: nesting too deep") }
        var fields: [Int16: ThriftValue] = [:]
        var last: Int16 = 0
        while true {
            let header = try byte()
            if header == 0 { return fields }
            let delta = header >> 4
            let id: Int16
            if delta == 0 {
                let raw = try zigzag()
                guard let v = Int16(exactly: raw) else { throw FormatError("thrift: bad field id") }
                id = v
            } else {
                id = last &+ Int16(delta)
            }
            last = id
            guard let type = ThriftType(rawValue: header & 0x0F) else { throw FormatError("thrift: bad type \(header & 0x0F)") }
            fields[id] = try value(type, depth: depth)
        }
    }

    private mutating func value(_ type: ThriftType, depth: Int) throws(FormatError) -> ThriftValue {
        switch type {
        case .boolTrue: return .bool(true)
        case .boolFalse: return .bool(false)
        case .byte: return .int(Int64(Int8(bitPattern: try byte())))
        case .i16, .i32, .i64: return .int(try zigzag())
        case .double:
            guard offset + 8 <= bytes.count else { throw FormatError("thrift: unexpected end") }
            defer { offset += 8 }
            return .double(Double(bitPattern: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian))
        case .binary:
            let n = Int(clamping: try varint())
            guard n <= bytes.count - offset else { throw FormatError("thrift: binary past the end") }
            defer { offset += n }
            return .binary(Array(bytes[offset..<(offset + n)]))
        case .list, .set:
            let header = try byte()
            var count = Int(header >> 4)
            if count == 15 { count = Int(clamping: try varint()) }
            guard count <= bytes.count - offset else { throw FormatError("thrift: list longer than the input") }
            guard let elementType = ThriftType(rawValue: header & 0x0F) else { throw FormatError("thrift: bad list type") }
            var out: [ThriftValue] = []
            out.reserveCapacity(count)
            for _ in 0..<count {
                // Booleans inside lists are one byte each (1 = true).
                if elementType == .boolTrue || elementType == .boolFalse {
                    out.append(.bool(try byte() == 1))
                } else {
                    out.append(try value(elementType, depth: depth + 1))
                }
            }
            return .list(out)
        case .map:
            throw FormatError("thrift: maps are not used by Parquet")
        case .structure:
            return .structure(try readStruct(depth: depth + 1))
        }
    }
}
