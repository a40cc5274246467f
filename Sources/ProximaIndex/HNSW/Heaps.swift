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

    func sortedAscending() -> [HNSWIndex.Candidate] {
        Array(UnsafeBufferPointer(start: items, count: count)).sorted { $0.distance < $1.distance }
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
