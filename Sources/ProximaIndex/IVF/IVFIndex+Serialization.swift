import ProximaCore

/// The on-disk form of an IVF index, laid out for ranged reads from an object
/// store: a cold query reads the prefix (header, quantizer, centroids, list
/// offsets) in one request, then the chosen posting lists' codes, then the
/// rerank vectors of the best candidates, each a contiguous byte range.
///
/// ```
/// "PXIVF001" | u32 metric | u32 dimension | u32 codes | u32 lists | u64 count | u32 pq subspaces | u32 0
/// | u64 seed | 8 × (u64 offset, u64 length) sections | padding to 192 bytes | 64-byte aligned sections:
/// quantizer floats, centroids, [list radii (f32 × lists, inner product only)], list offsets (u64, lists + 1),
/// ids (i32; none when slots are positions), codes, vectors
/// ```
///
/// The section table's slots are, in order: quantizer, centroids, list offsets,
/// ids, codes, vectors, list radii; the radii lie between the centroids and the
/// list offsets in the file, so they are part of the prefix.
extension IVFIndex {
    static let magic: [UInt8] = Array("PXIVF001".utf8)
    /// 48 bytes of fields and 8 section entries, padded to a multiple of 64.
    static let headerBytes = 192

    /// Byte ranges of an IVF file's sections, read from its header alone.
    public struct FileLayout: Sendable, Equatable {
        public var quantizer: Range<Int>
        public var centroids: Range<Int>
        /// Empty unless the metric is the inner product.
        public var listRadii: Range<Int>
        public var listOffsets: Range<Int>
        public var ids: Range<Int>
        public var codes: Range<Int>
        public var vectors: Range<Int>
        /// Everything a query needs before it touches a posting list.
        public var prefix: Range<Int> { 0..<listOffsets.upperBound }
    }

    public func serialized() -> [UInt8] { serialized(includingVectors: true) }

    /// Without the full vectors when the lists hold codes (their rerank
    /// vectors then come from whoever opens it: `init(serialized:vectors:)`,
    /// `RangedFile.open(…, vectors:)`); `flat` lists are the vectors, and stay.
    public func serialized(includingVectors: Bool) -> [UInt8] {
        let keepVectors = includingVectors || parameters.codes == .flat
        var quantizerFloats: [Float] = []
        if let q = quantizer { quantizerFloats = q.minimum + q.scale }
        if let pq = productQuantizer { quantizerFloats = pq.codebooks }
        let listOffsets64 = listOffsets.map { UInt64($0) }
        var body = ByteWriter()
        var sections: [(Int, Int)] = []
        func section(_ raw: UnsafeRawBufferPointer) {
            body.align(64)
            sections.append((Self.headerBytes + body.out.count, raw.count))
            body.bytes(raw)
        }
        // The header is a multiple of 64 bytes, so alignment within the body is alignment in the file.
        quantizerFloats.withUnsafeBytes { section($0) }
        centroids.withUnsafeBytes { section($0) }
        listRadii.withUnsafeBytes { section($0) }
        let radii = sections.removeLast()
        listOffsets64.withUnsafeBytes { section($0) }
        ids.withUnsafeBytes { section($0) }
        codes.withUnsafeBytes { section($0) }
        (keepVectors ? vectors : []).withUnsafeBytes { section($0) }
        sections.append(radii)
        var w = ByteWriter()
        w.bytes(Self.magic)
        w.u32(UInt32(DistanceMetric.allCases.firstIndex(of: metric)!))
        w.u32(UInt32(dimension))
        w.u32(UInt32(Codes.allCases.firstIndex(of: parameters.codes)!))
        w.u32(UInt32(listCount))
        w.u64(UInt64(count))
        w.u32(UInt32(productQuantizer?.subspaces ?? 0))
        w.u32(0)
        w.u64(parameters.seed)
        for i in 0..<8 {
            let (offset, length) = i < sections.count ? sections[i] : (0, 0)
            w.u64(UInt64(offset))
            w.u64(UInt64(length))
        }
        w.align(64)
        precondition(w.out.count == Self.headerBytes)
        return w.out + body.out
    }

    /// Reads the section table from the first `headerBytes` of a file.
    public static func layout(header data: [UInt8], fileSize: Int) throws(FormatError) -> FileLayout {
        var r = ByteReader(data)
        guard try r.bytes(8) == magic else { throw FormatError("not an IVF index file") }
        _ = try r.bytes(40)
        var ranges: [Range<Int>] = []
        var end = headerBytes
        for _ in 0..<6 {
            let offset = Int(clamping: try r.u64()), length = Int(clamping: try r.u64())
            guard offset >= end, length >= 0, offset <= fileSize, length <= fileSize - offset else {
                throw FormatError("IVF section outside the file")
            }
            ranges.append(offset..<(offset + length))
            end = offset + length
        }
        // Radii (slot 7) sit between the centroids and the list offsets; files from before them have none.
        let offset = Int(clamping: try r.u64()), length = Int(clamping: try r.u64())
        var radii = ranges[2].lowerBound..<ranges[2].lowerBound
        if length > 0 {
            guard offset >= ranges[1].upperBound, length <= ranges[2].lowerBound - offset else { throw FormatError("IVF radii outside their place") }
            radii = offset..<(offset + length)
        }
        return FileLayout(
            quantizer: ranges[0], centroids: ranges[1], listRadii: radii, listOffsets: ranges[2], ids: ranges[3], codes: ranges[4],
            vectors: ranges[5])
    }

    /// Opens a stored index; `vectors` (row-major, raw, in position order)
    /// must be given for a file without them, and are ignored otherwise.
    public init(serialized data: [UInt8], vectors external: [Float]? = nil) throws(FormatError) {
        let (skeleton, layout) = try Self.skeleton(prefix: data, fileSize: data.count)
        var reader = ByteReader(data)
        reader.offset = layout.ids.lowerBound
        let ids = try reader.array(Int32.self, count: layout.ids.count / 4)
        reader.offset = layout.vectors.lowerBound
        var vectors = try reader.array(Float.self, count: layout.vectors.count / 4)
        if vectors.count != skeleton.count * skeleton.dimension {
            guard let external, external.count == skeleton.count * skeleton.dimension else {
                throw FormatError("the IVF index needs its \(skeleton.count) vectors of \(skeleton.dimension) dimensions")
            }
            vectors = skeleton.metric == .cosine ? HNSWIndex.normalised(external, dimension: skeleton.dimension) : external
        }
        self.init(
            metric: skeleton.metric, dimension: skeleton.dimension, parameters: skeleton.parameters, count: skeleton.count,
            centroids: skeleton.centroids, listOffsets: skeleton.listOffsets, listRadii: skeleton.listRadii, ids: ids, vectors: vectors, codes: Array(data[layout.codes]),
            quantizer: skeleton.quantizer, productQuantizer: skeleton.productQuantizer, binaryQuantizer: skeleton.binaryQuantizer)
    }

    /// The index without ids, codes or vectors, from a file's first bytes
    /// (at least its `prefix`), with the file's layout: where a ranged search
    /// starts. Every section's size is checked against the header.
    static func skeleton(prefix data: [UInt8], fileSize: Int) throws(FormatError) -> (IVFIndex, FileLayout) {
        guard data.count >= Self.headerBytes else { throw FormatError("truncated IVF index file") }
        let layout = try Self.layout(header: Array(data[0..<Self.headerBytes]), fileSize: fileSize)
        guard data.count >= layout.prefix.upperBound else { throw FormatError("truncated IVF index prefix") }
        var r = ByteReader(data)
        _ = try r.bytes(8)
        let metricCode = Int(try r.u32()), dim = Int(try r.u32()), codesCode = Int(try r.u32()), lists = Int(try r.u32())
        let count = Int(clamping: try r.u64()), subspaces = Int(try r.u32())
        _ = try r.u32()
        let seed = try r.u64()
        guard DistanceMetric.allCases.indices.contains(metricCode), Codes.allCases.indices.contains(codesCode), dim > 0, dim <= 1 << 16, lists > 0,
            count >= 0, count <= fileSize / 4
        else { throw FormatError("bad IVF header") }
        let codes = Codes.allCases[codesCode]
        func floats(_ range: Range<Int>) throws(FormatError) -> [Float] {
            guard range.count % 4 == 0 else { throw FormatError("bad IVF section length") }
            var s = ByteReader(data)
            s.offset = range.lowerBound
            return try s.array(Float.self, count: range.count / 4)
        }
        var reader = ByteReader(data)
        reader.offset = layout.listOffsets.lowerBound
        let offsets = try reader.array(UInt64.self, count: layout.listOffsets.count / 8).map { Int(clamping: $0) }
        let centroids = try floats(layout.centroids), q = try floats(layout.quantizer), radii = try floats(layout.listRadii)
        let rowBytes = switch codes {
        case .flat: 0
        case .sq8: dim
        case .pq: subspaces
        case .rabitq: BinaryQuantizer(dimension: dim, seed: seed).rowBytes
        }
        guard centroids.count == lists * dim, radii.isEmpty || radii.count == lists, offsets.count == lists + 1, offsets.first == 0, offsets.last == count,
            zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }), layout.ids.count == count * 4 || layout.ids.isEmpty,
            layout.vectors.count == count * dim * 4 || (layout.vectors.isEmpty && codes != .flat),
            layout.codes.count == count * rowBytes, layout.vectors.upperBound == fileSize
        else { throw FormatError("IVF sections do not agree") }
        var scalar: ScalarQuantizer?
        var product: ProductQuantizer?
        var binary: BinaryQuantizer?
        switch codes {
        case .flat: guard q.isEmpty else { throw FormatError("unexpected quantizer") }
        case .rabitq:
            // The rotation is rebuilt from the seed: nothing else is stored.
            guard q.isEmpty else { throw FormatError("unexpected quantizer") }
            binary = BinaryQuantizer(dimension: dim, seed: seed)
        case .sq8:
            guard q.count == 2 * dim else { throw FormatError("bad SQ8 quantizer") }
            scalar = ScalarQuantizer(minimum: Array(q[0..<dim]), scale: Array(q[dim...]))
        case .pq:
            guard subspaces >= 1, dim % subspaces == 0, q.count == dim * 256 else { throw FormatError("bad PQ codebooks") }
            product = ProductQuantizer(dimension: dim, subspaces: subspaces, codebooks: q)
        }
        let skeleton = IVFIndex(
            metric: DistanceMetric.allCases[metricCode], dimension: dim,
            parameters: Parameters(nLists: lists, codes: codes, pqSubspaces: codes == .pq ? subspaces : nil, seed: seed), count: count,
            centroids: centroids, listOffsets: offsets, listRadii: radii, ids: [], vectors: [], codes: [], quantizer: scalar, productQuantizer: product,
            binaryQuantizer: binary)
        return (skeleton, layout)
    }
}
