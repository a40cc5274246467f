import ProximaCore

/// The on-disk form of an HNSW index, laid out for mmap: a fixed header, then
/// the vectors and layer-0 links as flat little-endian arrays at 64-byte
/// aligned offsets, then the sparse upper layers. Checksums are the segment
/// writer's business (every object is checksummed there).
///
/// `PXHNSW01` files carry the vectors; `PXHNSW02` files do not (the graph
/// alone: a segment's index keeps no second copy of the segment's vectors),
/// and are opened with the vectors handed in, in node order.
extension HNSWIndex {
    static let magic: [UInt8] = Array("PXHNSW01".utf8)
    static let graphOnlyMagic: [UInt8] = Array("PXHNSW02".utf8)

    public func serialized() -> [UInt8] { serialized(includingVectors: true) }

    /// Without the vectors: whoever opens it supplies them (`init(serialized:vectors:)`).
    public func serialized(includingVectors: Bool) -> [UInt8] {
        var w = ByteWriter()
        w.bytes(includingVectors ? Self.magic : Self.graphOnlyMagic)
        w.u32(UInt32(DistanceMetric.allCases.firstIndex(of: metric)!))
        w.u32(UInt32(dimension))
        w.u32(UInt32(parameters.m))
        w.u32(UInt32(parameters.efConstruction))
        w.u64(parameters.seed)
        w.u64(rng.state)
        w.u64(UInt64(count))
        w.i32(entryPoint)
        w.i32(Int32(maxLevel))
        w.align(64)
        if includingVectors { vectors.withUnsafeBytes { w.bytes($0) } }
        w.align(64)
        links0.withUnsafeBytes { w.bytes($0) }
        counts0.withUnsafeBytes { w.bytes($0) }
        w.bytes(levels)
        w.align(8)
        for node in upper where !node.isEmpty {
            for list in node {
                w.u32(UInt32(list.count))
                list.withUnsafeBytes { w.bytes($0) }
            }
        }
        return w.out
    }

    /// Opens a stored index; `vectors` (row-major, in node order, as they
    /// were added) must be given for a file without them, and are ignored otherwise.
    public init(serialized data: [UInt8], vectors external: [Float]? = nil) throws(FormatError) {
        var r = ByteReader(data)
        let magic = try r.bytes(8)
        guard magic == Self.magic || magic == Self.graphOnlyMagic else { throw FormatError("not an HNSW index file") }
        let keepsVectors = magic == Self.magic
        let metricCode = Int(try r.u32())
        guard DistanceMetric.allCases.indices.contains(metricCode) else { throw FormatError("unknown metric \(metricCode)") }
        let dimension = Int(try r.u32()), m = Int(try r.u32()), efc = Int(try r.u32())
        let seed = try r.u64(), rngState = try r.u64(), count = Int(try r.u64())
        let entry = try r.i32(), maxLevel = Int(try r.i32())
        guard dimension > 0, m >= 2, count >= 0, count <= data.count / (keepsVectors ? max(dimension * 4, 1) : 8) else {
            throw FormatError("bad HNSW header")
        }
        self.init(metric: DistanceMetric.allCases[metricCode], dimension: dimension, parameters: .init(m: m, efConstruction: efc, seed: seed))
        rng.state = rngState
        try r.align(64)
        if keepsVectors {
            vectors = try r.array(Float.self, count: count * dimension)
        } else {
            guard let external, external.count == count * dimension else {
                throw FormatError("the HNSW index needs its \(count) vectors of \(dimension) dimensions")
            }
            vectors = metric == .cosine ? Self.normalised(external, dimension: dimension) : external
        }
        try r.align(64)
        links0 = try r.array(Int32.self, count: count * maxLinks0)
        counts0 = try r.array(UInt16.self, count: count)
        levels = try r.bytes(count)
        try r.align(8)
        upper = []
        upper.reserveCapacity(count)
        for level in levels {
            var lists: [[Int32]] = []
            for _ in 0..<Int(level) {
                let n = Int(try r.u32())
                guard n <= m else { throw FormatError("too many links") }
                lists.append(try r.array(Int32.self, count: n))
            }
            upper.append(lists)
        }
        guard r.isAtEnd else { throw FormatError("trailing bytes after the HNSW index") }
        guard counts0.allSatisfy({ Int($0) <= maxLinks0 }), links0.allSatisfy({ $0 >= -1 && Int($0) < count }),
            count == 0 ? entry == -1 : (entry >= 0 && Int(entry) < count)
        else { throw FormatError("HNSW links point outside the index") }
        entryPoint = entry
        self.maxLevel = maxLevel
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
}
