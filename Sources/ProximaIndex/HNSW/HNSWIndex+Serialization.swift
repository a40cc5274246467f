import ProximaCore

/// The stored forms of an HNSW index. All begin with the same header.
///
/// - `PXHNSW01`: vectors and graph, laid out for mmap (the header, then the
///   vectors and layer-0 links as flat little-endian arrays at 64-byte
///   aligned offsets, then the sparse upper layers).
/// - `PXHNSW02`: the same without the vectors (the graph alone), opened with
///   the vectors handed in, in node order, or searched mapped (`MappedGraph`).
/// - `PXHNSW03`: the graph compact, as segments store it in the bucket:
///   layer 0 as Rice-coded gaps (`LinkCoding`), about half of `PXHNSW02`.
///   Expanded to `PXHNSW02` (`mappable`) where it is to be mapped.
///
/// Checksums are the segment writer's business (every object is checksummed there).
extension HNSWIndex {
    static let magic: [UInt8] = Array("PXHNSW01".utf8)
    static let graphOnlyMagic: [UInt8] = Array("PXHNSW02".utf8)
    static let compactMagic: [UInt8] = Array("PXHNSW03".utf8)

    public func serialized() -> [UInt8] { serialized(includingVectors: true) }

    /// Without the vectors, compact (`PXHNSW03`): whoever opens it supplies them (`init(serialized:vectors:)`).
    public func serialized(includingVectors: Bool) -> [UInt8] {
        var w = ByteWriter()
        header.write(&w, magic: includingVectors ? Self.magic : Self.compactMagic)
        if includingVectors {
            w.align(64)
            vectors.withUnsafeBytes { w.bytes($0) }
            graph.writeFlat(&w)
        } else {
            graph.writeCompact(&w, maxLinks0: maxLinks0)
        }
        return w.out
    }

    /// Opens a stored index; `vectors` (row-major, in node order, as they
    /// were added) must be given for a file without them, and are ignored otherwise.
    public init(serialized data: [UInt8], vectors external: [Float]? = nil) throws(FormatError) {
        var r = ByteReader(data)
        let (header, magic) = try Header.read(&r, fileSize: data.count)
        self.init(metric: header.metric, dimension: header.dimension, parameters: .init(m: header.m, efConstruction: header.efConstruction, seed: header.seed))
        rng.state = header.rngState
        let count = header.count
        if magic == Self.magic {
            try r.align(64)
            guard count <= r.remaining / max(header.dimension * 4, 1) else { throw FormatError("bad HNSW header") }
            vectors = try r.array(Float.self, count: count * header.dimension)
        } else {
            guard let external, external.count == count * header.dimension else {
                throw FormatError("the HNSW index needs its \(count) vectors of \(header.dimension) dimensions")
            }
            vectors = metric == .cosine ? Self.normalised(external, dimension: header.dimension) : external
        }
        let graph = magic == Self.compactMagic ? try Graph.readCompact(&r, header: header) : try Graph.readFlat(&r, header: header)
        guard r.isAtEnd else { throw FormatError("trailing bytes after the HNSW index") }
        (links0, counts0, levels, upper) = (graph.links0, graph.counts0, graph.levels, graph.upper)
        entryPoint = header.entryPoint
        maxLevel = header.maxLevel
    }

    /// A stored graph (`PXHNSW02` or `PXHNSW03`) in the flat form `MappedGraph` searches.
    public static func mappable(_ stored: [UInt8]) throws(FormatError) -> [UInt8] {
        var r = ByteReader(stored)
        let (header, magic) = try Header.read(&r, fileSize: stored.count)
        if magic == graphOnlyMagic { return stored }
        guard magic == compactMagic else { throw FormatError("not a graph-only HNSW file") }
        let graph = try Graph.readCompact(&r, header: header)
        guard r.isAtEnd else { throw FormatError("trailing bytes after the HNSW index") }
        var w = ByteWriter()
        header.write(&w, magic: graphOnlyMagic)
        graph.writeFlat(&w)
        return w.out
    }

    /// Each row scaled to unit length (as `add` stores cosine vectors).
    static func normalised(_ rows: [Float], dimension: Int) -> [Float] {
        var out = rows
        out.withUnsafeMutableBufferPointer { p in
            for i in 0..<(rows.count / dimension) {
                let inv = DistanceKernels.inverseNorm(p.baseAddress! + i * dimension, dimension)
                for d in 0..<dimension { p[i * dimension + d] *= inv }
            }
        }
        return out
    }

    private var header: Header {
        Header(
            metric: metric, dimension: dimension, m: parameters.m, efConstruction: parameters.efConstruction, seed: parameters.seed,
            rngState: rng.state, count: count, entryPoint: entryPoint, maxLevel: maxLevel)
    }

    private var graph: Graph { Graph(links0: links0, counts0: counts0, levels: levels, upper: upper) }
}

/// What every form begins with.
private struct Header {
    var metric: DistanceMetric
    var dimension: Int, m: Int, efConstruction: Int
    var seed: UInt64, rngState: UInt64
    var count: Int
    var entryPoint: Int32
    var maxLevel: Int

    var maxLinks0: Int { 2 * m }

    func write(_ w: inout ByteWriter, magic: [UInt8]) {
        w.bytes(magic)
        w.u32(UInt32(DistanceMetric.allCases.firstIndex(of: metric)!))
        w.u32(UInt32(dimension))
        w.u32(UInt32(m))
        w.u32(UInt32(efConstruction))
        w.u64(seed)
        w.u64(rngState)
        w.u64(UInt64(count))
        w.i32(entryPoint)
        w.i32(Int32(maxLevel))
    }

    /// The header and which form follows.
    static func read(_ r: inout ByteReader, fileSize: Int) throws(FormatError) -> (Header, [UInt8]) {
        let magic = try r.bytes(8)
        guard [HNSWIndex.magic, HNSWIndex.graphOnlyMagic, HNSWIndex.compactMagic].contains(magic) else {
            throw FormatError("not an HNSW index file")
        }
        let metricCode = Int(try r.u32())
        guard DistanceMetric.allCases.indices.contains(metricCode) else { throw FormatError("unknown metric \(metricCode)") }
        let dimension = Int(try r.u32()), m = Int(try r.u32()), efc = Int(try r.u32())
        let seed = try r.u64(), rngState = try r.u64(), count = try r.u64()
        let entry = try r.i32(), maxLevel = Int(try r.i32())
        // Every node costs at least a level byte, in every form.
        guard dimension > 0, m >= 2, m <= 4096, count <= UInt64(fileSize),
            count == 0 ? entry == -1 : (entry >= 0 && UInt64(entry) < count)
        else { throw FormatError("bad HNSW header") }
        let header = Header(
            metric: DistanceMetric.allCases[metricCode], dimension: dimension, m: m, efConstruction: efc, seed: seed,
            rngState: rngState, count: Int(count), entryPoint: entry, maxLevel: maxLevel)
        return (header, magic)
    }
}

/// The links: layer 0 in `maxLinks0` slots per node, the upper layers by node.
private struct Graph {
    var links0: [Int32]
    var counts0: [UInt16]
    var levels: [UInt8]
    var upper: [[[Int32]]]

    /// `PXHNSW01`/`02`: flat arrays at 64-byte aligned offsets, for mmap.
    func writeFlat(_ w: inout ByteWriter) {
        w.align(64)
        links0.withUnsafeBytes { w.bytes($0) }
        counts0.withUnsafeBytes { w.bytes($0) }
        w.bytes(levels)
        w.align(8)
        writeUpper(&w)
    }

    /// `PXHNSW03`: levels, counts, upper layers, then layer 0 Rice-coded.
    func writeCompact(_ w: inout ByteWriter, maxLinks0: Int) {
        w.bytes(levels)
        w.align(2)
        counts0.withUnsafeBytes { w.bytes($0) }
        w.align(8)
        writeUpper(&w)
        let (k, words) = LinkCoding.encode(links0: links0, counts0: counts0, maxLinks0: maxLinks0)
        w.u32(UInt32(k))
        w.u64(UInt64(words.count))
        words.withUnsafeBytes { w.bytes($0) }
    }

    private func writeUpper(_ w: inout ByteWriter) {
        for node in upper where !node.isEmpty {
            for list in node {
                w.u32(UInt32(list.count))
                list.withUnsafeBytes { w.bytes($0) }
            }
        }
    }

    static func readFlat(_ r: inout ByteReader, header: Header) throws(FormatError) -> Graph {
        let count = header.count
        try r.align(64)
        guard count <= r.remaining / (header.maxLinks0 * 4 + 3) else { throw FormatError("truncated index file") }
        let links0 = try r.array(Int32.self, count: count * header.maxLinks0)
        let counts0 = try r.array(UInt16.self, count: count)
        let levels = try r.bytes(count)
        try r.align(8)
        let upper = try readUpper(&r, levels: levels, header: header)
        guard counts0.allSatisfy({ Int($0) <= header.maxLinks0 }), links0.allSatisfy({ $0 >= -1 && Int($0) < count }) else {
            throw FormatError("HNSW links point outside the index")
        }
        return Graph(links0: links0, counts0: counts0, levels: levels, upper: upper)
    }

    static func readCompact(_ r: inout ByteReader, header: Header) throws(FormatError) -> Graph {
        let count = header.count
        let levels = try r.bytes(count)
        try r.align(2)
        let counts0 = try r.array(UInt16.self, count: count)
        try r.align(8)
        let upper = try readUpper(&r, levels: levels, header: header)
        let k = Int(try r.u32())
        let wordCount = try r.u64()
        guard wordCount <= UInt64(r.remaining / 8) else { throw FormatError("truncated index file") }
        let words = try r.array(UInt64.self, count: Int(wordCount)).map { UInt64(littleEndian: $0) }
        let links0 = try LinkCoding.decode(words: words, k: k, counts0: counts0, maxLinks0: header.maxLinks0)
        return Graph(links0: links0, counts0: counts0, levels: levels, upper: upper)
    }

    private static func readUpper(_ r: inout ByteReader, levels: [UInt8], header: Header) throws(FormatError) -> [[[Int32]]] {
        var upper: [[[Int32]]] = []
        upper.reserveCapacity(levels.count)
        for level in levels {
            var lists: [[Int32]] = []
            for _ in 0..<Int(level) {
                let n = Int(try r.u32())
                guard n <= header.m else { throw FormatError("too many links") }
                let list = try r.array(Int32.self, count: n)
                guard list.allSatisfy({ $0 >= 0 && Int($0) < header.count }) else { throw FormatError("HNSW links point outside the index") }
                lists.append(list)
            }
            upper.append(lists)
        }
        return upper
    }
}
