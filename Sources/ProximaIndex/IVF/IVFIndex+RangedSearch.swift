import ProximaCore

extension IVFIndex {
    /// An IVF index file searched through ranged reads, never loaded whole:
    /// the cold path of ARCHITECTURE.md, for a file in an object store or on a
    /// disk not yet cached. Opening reads the prefix (header, quantizer,
    /// centroids, list offsets: one read, two if it is longer than guessed);
    /// a query then takes two rounds, the reads of each issued together:
    /// the chosen lists' rows, then the full vectors (and ids, when the file
    /// keeps them) of the best candidates for rerank. Filters are not applied
    /// here.
    public struct RangedFile: Sendable {
        public typealias Read = @Sendable (Range<Int>) async throws -> [UInt8]
        /// The raw vectors at these positions, for a file that keeps none
        /// (they come from the segment's data by range).
        public typealias VectorRead = @Sendable ([Int]) async throws -> [[Float]]

        /// What reading cost: rounds of reads issued together, requests, bytes.
        public struct Cost: Sendable, Equatable {
            public var rounds = 0
            public var requests = 0
            public var bytes = 0
        }

        let read: Read
        let vectorRead: VectorRead?
        let layout: FileLayout
        /// The index without ids, codes or vectors.
        let skeleton: IVFIndex
        /// Candidates whose byte ranges lie within this many bytes of each other are read as one.
        static let coalesceGap = 4096

        public var count: Int { skeleton.count }

        /// Opens a file of `size` bytes, reading `prefixGuess` bytes first.
        public static func open(
            size: Int, prefixGuess: Int = 256 << 10, read: @escaping Read, vectors: VectorRead? = nil
        ) async throws -> (RangedFile, Cost) {
            var cost = Cost()
            var prefix = try await read(0..<min(size, max(prefixGuess, headerBytes)))
            cost.rounds += 1
            cost.requests += 1
            cost.bytes += prefix.count
            guard prefix.count >= headerBytes else { throw FormatError("truncated IVF index file") }
            let layout = try IVFIndex.layout(header: Array(prefix[0..<headerBytes]), fileSize: size)
            if prefix.count < layout.prefix.upperBound {
                let rest = try await read(prefix.count..<layout.prefix.upperBound)
                cost.rounds += 1
                cost.requests += 1
                cost.bytes += rest.count
                prefix += rest
            }
            let (skeleton, _) = try IVFIndex.skeleton(prefix: prefix, fileSize: size)
            if layout.vectors.isEmpty, skeleton.count > 0, vectors == nil {
                throw FormatError("this IVF index file keeps no vectors: open it with a source for them")
            }
            return (RangedFile(read: read, vectorRead: vectors, layout: layout, skeleton: skeleton), cost)
        }

        /// The `k` nearest slots among the `nProbes` nearest lists, as
        /// `IVFIndex.search` finds them in memory, and what the reads cost.
        public func search(_ query: [Float], k: Int, nProbes: Int, rerank: Int = 4) async throws -> (hits: [TopK.Candidate], cost: Cost) {
            let (hits, cost) = try await search(query, k: k, nProbes: nProbes, rerank: rerank, accept: nil, plan: nil)
            return (hits.map { TopK.Candidate(slot: $0.slot, distance: $0.distance) }, cost)
        }

        /// A hit of a ranged search: its slot, distance, and its full vector
        /// when the search read it (rerank from an external source, or the exact plan).
        public struct Hit: Sendable {
            public var slot: Int
            public var distance: Float
            public var vector: [Float]?
        }

        /// As `IVFIndex.search` with a filter: `accept` tests positions
        /// (the file's slots when it keeps no ids); under `.filterFirst` the
        /// accepted positions' vectors are read and compared exactly, else
        /// the probes are widened as the plan says. Vectors read for rerank
        /// come back with their hits, so a caller need not read them again.
        public func search(
            _ query: [Float], k: Int, nProbes: Int, rerank: Int, accept: ((Int32) -> Bool)?, plan: FilterPlan?
        ) async throws -> (hits: [Hit], cost: Cost) {
            let index = skeleton
            guard index.count > 0, k > 0 else { return ([], Cost()) }
            precondition(query.count == index.dimension, "query of the wrong dimension")
            var cost = Cost()
            let q = index.prepared(query)
            let dim = index.dimension
            var nProbes = nProbes
            if let accept, let plan {
                switch plan {
                case .widened(let factor): nProbes = min(index.listCount, Int((Double(nProbes) * factor).rounded(.up)))
                case .filterFirst:
                    let positions = (0..<index.count).filter { accept(Int32($0)) }
                    var vectors: [[Float]]
                    if let vectorRead {
                        vectors = try await vectorRead(positions)
                        cost.rounds += 1
                        cost.requests += 1
                    } else {
                        let ranges = positions.map { p in (layout.vectors.lowerBound + p * dim * 4)..<(layout.vectors.lowerBound + (p + 1) * dim * 4) }
                        let pieces = try await fetchCoalesced(ranges, &cost)
                        vectors = ranges.map { r in pieces.bytes(r).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
                    }
                    guard vectors.count == positions.count else { throw FormatError("the vector source answered \(vectors.count) vectors") }
                    var top = TopK(k: k)
                    q.withUnsafeBufferPointer { qb in
                        for (i, v) in vectors.enumerated() where v.count == dim {
                            let u = index.metric == .cosine ? HNSWIndex.normalised(v, dimension: dim) : v
                            top.insert(slot: i, distance: u.withUnsafeBufferPointer { index.exactDistance(qb.baseAddress!, $0.baseAddress!) })
                        }
                    }
                    let hits = top.sorted().map { c in
                        Hit(slot: positions[c.slot], distance: index.metric == .euclidean ? max(c.distance, 0).squareRoot() : c.distance, vector: vectors[c.slot])
                    }
                    return (hits, cost)
                }
            }
            let probed = q.withUnsafeBufferPointer { index.nearestLists($0.baseAddress!, nProbes) }
            // Round 1: each probed list's rows, one contiguous range per list.
            let lists = try await fetch(ranges(of: probed), &cost)
            var joined: [UInt8] = []
            var start: [Int: Int] = [:]
            for (list, bytes) in zip(probed, lists) {
                start[list.slot] = joined.count
                joined += bytes
            }
            let reranks = index.parameters.codes != .flat
            var top = TopK(k: reranks ? k * max(1, rerank) : k)
            if !joined.isEmpty {
                // Positions are slots here: the file keeps no ids when a caller filters.
                let byPosition = accept
                q.withUnsafeBufferPointer { qb in
                    joined.withUnsafeBytes { rows in index.scanLists(qb.baseAddress!, probed, byPosition, &top, { rows.baseAddress! + start[$0]! }) }
                }
            }
            // Round 2: the candidates' full vectors (to rerank) and stored ids (to name them).
            let candidates = top.sorted()
            let keepsIds = !layout.ids.isEmpty
            let externalVectors = reranks && layout.vectors.isEmpty
            var wanted: [Range<Int>] = []
            for c in candidates {
                if reranks, !externalVectors {
                    wanted.append((layout.vectors.lowerBound + c.slot * dim * 4)..<(layout.vectors.lowerBound + (c.slot + 1) * dim * 4))
                }
                if keepsIds { wanted.append((layout.ids.lowerBound + c.slot * 4)..<(layout.ids.lowerBound + c.slot * 4 + 4)) }
            }
            // The same round: the file's pieces, and the vectors from their source when the file keeps none.
            async let fetchedVectors = externalVectors ? vectorRead!(candidates.map(\.slot)) : []
            let pieces = try await fetchCoalesced(wanted, &cost)
            let external = try await fetchedVectors
            if externalVectors {
                guard external.count == candidates.count, external.allSatisfy({ $0.count == dim }) else {
                    throw FormatError("the vector source answered \(external.count) vectors for \(candidates.count) positions")
                }
                cost.requests += 1
                if wanted.isEmpty { cost.rounds += 1 }
            }
            var final = TopK(k: k)
            var slots: [Int: Int] = [:]
            var vectorOf: [Int: [Float]] = [:]
            q.withUnsafeBufferPointer { qb in
                for (i, c) in candidates.enumerated() {
                    var distance = c.distance
                    if externalVectors {
                        let v = index.metric == .cosine ? HNSWIndex.normalised(external[i], dimension: dim) : external[i]
                        distance = v.withUnsafeBufferPointer { index.exactDistance(qb.baseAddress!, $0.baseAddress!) }
                        vectorOf[c.slot] = external[i]
                    } else if reranks {
                        let base = layout.vectors.lowerBound + c.slot * dim * 4
                        let bytes = pieces.bytes(base..<(base + dim * 4))
                        let vector = [Float](unsafeUninitializedCapacity: dim) { out, n in
                            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: $0) }
                            n = dim
                        }
                        distance = vector.withUnsafeBufferPointer { index.exactDistance(qb.baseAddress!, $0.baseAddress!) }
                    }
                    if keepsIds {
                        let at = layout.ids.lowerBound + c.slot * 4
                        slots[c.slot] = Int(pieces.bytes(at..<(at + 4)).withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) })
                    }
                    final.insert(slot: c.slot, distance: distance)
                }
            }
            let hits = final.sorted().map { c in
                Hit(
                    slot: slots[c.slot] ?? c.slot, distance: index.metric == .euclidean ? max(c.distance, 0).squareRoot() : c.distance,
                    vector: vectorOf[c.slot])
            }
            return (hits, cost)
        }

        /// The byte ranges a search of `query` with `nProbes` (and no filter)
        /// reads first, its lists' rows: what a caller that knows the query
        /// before it searches can start reading early.
        public func listRanges(_ query: [Float], nProbes: Int) -> [Range<Int>] {
            let index = skeleton
            guard index.count > 0, query.count == index.dimension else { return [] }
            let q = index.prepared(query)
            return ranges(of: q.withUnsafeBufferPointer { index.nearestLists($0.baseAddress!, nProbes) })
        }

        /// Each list's rows: one contiguous range per list.
        private func ranges(of lists: [TopK.Candidate]) -> [Range<Int>] {
            let index = skeleton
            let width = index.rowBytes
            let rowsSection = index.parameters.codes == .flat ? layout.vectors : layout.codes
            return lists.map { list in
                (rowsSection.lowerBound + index.listOffsets[list.slot] * width)..<(rowsSection.lowerBound + index.listOffsets[list.slot + 1] * width)
            }
        }

        /// Candidates per result reranked, as the in-memory index chooses it for these codes.
        public var defaultRerank: Int { skeleton.suggestedRerank }

        /// Reads `ranges` concurrently, in order; one round.
        func fetch(_ ranges: [Range<Int>], _ cost: inout Cost) async throws -> [[UInt8]] {
            let wanted = ranges.filter { !$0.isEmpty }
            guard !wanted.isEmpty else { return ranges.map { _ in [] } }
            let read = self.read
            let fetched = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for (i, range) in ranges.enumerated() where !range.isEmpty { group.addTask { (i, try await read(range)) } }
                var out = [[UInt8]](repeating: [], count: ranges.count)
                for try await (i, bytes) in group {
                    guard bytes.count == ranges[i].count else { throw FormatError("short read of an IVF index file") }
                    out[i] = bytes
                }
                return out
            }
            cost.rounds += 1
            cost.requests += wanted.count
            cost.bytes += wanted.reduce(0) { $0 + $1.count }
            return fetched
        }

        /// Reads `ranges`, merging those within `coalesceGap` bytes of each other; one round.
        func fetchCoalesced(_ ranges: [Range<Int>], _ cost: inout Cost) async throws -> Pieces {
            var merged: [Range<Int>] = []
            for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
                if let last = merged.last, r.lowerBound <= last.upperBound + Self.coalesceGap {
                    merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
                } else {
                    merged.append(r)
                }
            }
            return Pieces(ranges: merged, bytes: try await fetch(merged, &cost))
        }
    }

    /// Byte ranges read from a file, looked up by the range wanted.
    struct Pieces {
        let ranges: [Range<Int>]
        let bytes: [[UInt8]]

        func bytes(_ wanted: Range<Int>) -> ArraySlice<UInt8> {
            // The last piece starting at or before the wanted range holds it.
            var lo = 0, hi = ranges.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if ranges[mid].lowerBound <= wanted.lowerBound { lo = mid } else { hi = mid - 1 }
            }
            let piece = ranges[lo]
            precondition(piece.lowerBound <= wanted.lowerBound && wanted.upperBound <= piece.upperBound, "range was not read")
            return bytes[lo][(wanted.lowerBound - piece.lowerBound)..<(wanted.upperBound - piece.lowerBound)]
        }
    }
}
