/// Keeps the `k` nearest candidates seen so far: a max-heap on distance, so
/// the worst kept candidate is at the root and is cheap to compare against.
public struct TopK: Sendable {
    public struct Candidate: Sendable, Equatable {
        public var slot: Int
        public var distance: Float
        public init(slot: Int, distance: Float) {
            self.slot = slot
            self.distance = distance
        }
    }

    public let k: Int
    private var heap: [Candidate] = []

    public init(k: Int) {
        self.k = k
        heap.reserveCapacity(min(k, 4096))
    }

    public var count: Int { heap.count }
    public var isFull: Bool { heap.count >= k }
    /// The distance a new candidate must beat once the heap is full.
    public var worstDistance: Float { heap.first?.distance ?? .infinity }

    @inlinable
    public func accepts(_ distance: Float) -> Bool { !isFull || distance < worstDistance }

    public mutating func insert(slot: Int, distance: Float) {
        guard k > 0 else { return }
        if heap.count < k {
            heap.append(Candidate(slot: slot, distance: distance))
            siftUp(heap.count - 1)
        } else if distance < heap[0].distance {
            heap[0] = Candidate(slot: slot, distance: distance)
            siftDown(0)
        }
    }

    public mutating func merge(_ other: TopK) {
        for c in other.heap { insert(slot: c.slot, distance: c.distance) }
    }

    /// Nearest first; ties broken by slot so results are deterministic.
    public func sorted() -> [Candidate] {
        heap.sorted { $0.distance != $1.distance ? $0.distance < $1.distance : $0.slot < $1.slot }
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].distance > heap[parent].distance else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        let n = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { return }
            var largest = left
            let right = left + 1
            if right < n, heap[right].distance > heap[left].distance { largest = right }
            guard heap[largest].distance > heap[parent].distance else { return }
            heap.swapAt(parent, largest)
            parent = largest
        }
    }
}
