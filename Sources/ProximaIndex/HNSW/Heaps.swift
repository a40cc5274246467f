/// Binary heaps of candidates for the graph search: unsafe storage, no
/// copy-on-write checks, no closures. Each search owns its two heaps and
/// calls `release()` when done.
struct CandidateHeap<Order: HeapOrder> {
    private var items: UnsafeMutablePointer<HNSWIndex.Candidate>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        items = .allocate(capacity: self.capacity)
    }

    func release() { items.deallocate() }

    var top: HNSWIndex.Candidate { items[0] }

    @inline(__always)
    mutating func push(_ c: HNSWIndex.Candidate) {
        if count == capacity {
            let bigger = UnsafeMutablePointer<HNSWIndex.Candidate>.allocate(capacity: capacity * 2)
            bigger.update(from: items, count: count)
            items.deallocate()
            items = bigger
            capacity *= 2
        }
        var i = count
        count += 1
        while i > 0 {
            let p = (i - 1) >> 1
            guard Order.before(c.distance, items[p].distance) else { break }
            items[i] = items[p]
            i = p
        }
        items[i] = c
    }

    @inline(__always)
    mutating func pop() -> HNSWIndex.Candidate? {
        guard count > 0 else { return nil }
        let result = items[0]
        count -= 1
        guard count > 0 else { return result }
        let last = items[count]
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= count { break }
            var m = l
            let r = l + 1
            if r < count, Order.before(items[r].distance, items[l].distance) { m = r }
            guard Order.before(items[m].distance, last.distance) else { break }
            items[i] = items[m]
            i = m
        }
        items[i] = last
        return result
    }

}

extension CandidateHeap where Order == FarthestFirst {
    /// Empties the heap into an array, nearest first: popping yields the
    /// farthest each time, so the array fills from its end (no sort, no
    /// closure; a sort of the results was 4 % of an HNSW build).
    mutating func drainNearestFirst() -> [HNSWIndex.Candidate] {
        let n = count
        return [HNSWIndex.Candidate](unsafeUninitializedCapacity: n) { out, initialized in
            var i = n
            while let c = pop() {
                i -= 1
                out.initializeElement(at: i, to: c)
            }
            initialized = n
        }
    }
}

protocol HeapOrder {
    static func before(_ a: Float, _ b: Float) -> Bool
}

/// Nearest on top: the frontier of candidates to expand.
enum NearestFirst: HeapOrder {
    @inline(__always) static func before(_ a: Float, _ b: Float) -> Bool { a < b }
}

/// Farthest on top: the best results so far, worst first out.
enum FarthestFirst: HeapOrder {
    @inline(__always) static func before(_ a: Float, _ b: Float) -> Bool { a > b }
}

typealias MinHeap = CandidateHeap<NearestFirst>
typealias MaxHeap = CandidateHeap<FarthestFirst>
