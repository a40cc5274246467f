/// The column shapes ProximaDB's segments use, in Parquet's terms.
///
/// Scalars are `required` (no nulls, no levels) or `optional` (definition
/// levels); `floatList` is a required LIST of required FLOAT, the standard
/// three-level layout pyarrow and DuckDB read as `list<float>`.
public enum ParquetColumnData: Sendable, Equatable {
    case int64([Int64?])
    case double([Double?])
    case boolean([Bool?])
    case string([String?])
    /// Row i holds `values[offsets[i]..<offsets[i + 1]]`; `offsets` has rows + 1 entries.
    case floatList(values: [Float], offsets: [Int])

    public var rowCount: Int {
        switch self {
        case .int64(let v): v.count
        case .double(let v): v.count
        case .boolean(let v): v.count
        case .string(let v): v.count
        case .floatList(_, let offsets): max(0, offsets.count - 1)
        }
    }
}

public struct ParquetColumn: Sendable, Equatable {
    public enum Annotation: Sendable, Equatable {
        case none, json, timestampMicros
    }

    public var name: String
    public var data: ParquetColumnData
    /// Required columns hold no nulls (and store no definition levels).
    public var required: Bool
    public var annotation: Annotation
    /// Pages zstd-compressed (when the writer compresses at all); an
    /// uncompressed column's values sit at offsets the writer reports, for ranged reads.
    public var compressed: Bool

    public init(_ name: String, _ data: ParquetColumnData, required: Bool = false, annotation: Annotation = .none, compressed: Bool = true) {
        self.name = name
        self.data = data
        self.required = required
        self.annotation = annotation
        self.compressed = compressed
    }
}

/// Min/max/null-count of one column in one row group, for skipping groups.
public struct ParquetStatistics: Sendable, Equatable {
    public enum Bound: Sendable, Equatable, Comparable {
        case int(Int64), double(Double), string([UInt8])

        public static func < (a: Bound, b: Bound) -> Bool {
            switch (a, b) {
            case (.int(let x), .int(let y)): x < y
            case (.double(let x), .double(let y)): x < y
            case (.string(let x), .string(let y)): x.lexicographicallyPrecedes(y)
            default: false
            }
        }
    }

    public var min: Bound?
    public var max: Bound?
    public var nullCount: Int64
}

/// Parquet's enumerations, by their numbers in parquet.thrift.
enum ParquetCode {
    static let boolean: Int32 = 0, int64: Int32 = 2, float: Int32 = 4, double: Int32 = 5, byteArray: Int32 = 6
    static let required: Int32 = 0, optional: Int32 = 1, repeated: Int32 = 2
    static let convertedUTF8: Int32 = 0, convertedList: Int32 = 3, convertedTimestampMicros: Int32 = 10, convertedJSON: Int32 = 19
    static let plain: Int32 = 0, rle: Int32 = 3
    static let uncompressed: Int32 = 0, zstd: Int32 = 6
    static let dataPage: Int32 = 0
    static let magic: [UInt8] = Array("PAR1".utf8)
}
