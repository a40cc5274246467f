/// Binary heaps of candidates for the graph search, specialised (no closures).
struct MinHeap {
    private var items: [HNSWIndex.Candidate] = []
    var count: Int { items.count }

    mutating func push(_ c: HNSWIndex.Candidate) {
        items.append(c)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].distance < items[p].distance else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> HNSWIndex.Candidate? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n, items[l].distance < items[m].distance { m = l }
                if r < n, items[r].distance < items[m].distance { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

struct MaxHeap {
    private var items: [HNSWIndex.Candidate] = []
    var count: Int { items.count }
    var top: HNSWIndex.Candidate { items[0] }

    mutating func push(_ c: HNSWIndex.Candidate) {
        items.append(c)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].distance > items[p].distance else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> HNSWIndex.Candidate? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n, items[l].distance > items[m].distance { m = l }
                if r < n, items[r].distance > items[m].distance { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    func sortedAscending() -> [HNSWIndex.Candidate] { items.sorted { $0.distance < $1.distance } }
}
