/// Messages waiting for one relay, taken in turn by company: a company with thousands claimed does not
/// make another's few wait behind them (first in, first out within each company).
struct FairQueue<Element> {
    private var queues: [String: RingBuffer<Element>] = [:]
    /// Companies with something waiting, in the order they take turns.
    private var turns: [String] = []
    private var nextTurn = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element, company: String?) {
        let company = company ?? ""
        if queues[company] == nil {
            queues[company] = RingBuffer()
            turns.append(company)
        }
        queues[company]!.append(element)
        count += 1
    }

    /// The oldest element of the company whose turn it is.
    mutating func popFirst() -> Element? {
        guard !turns.isEmpty else { return nil }
        if nextTurn >= turns.count { nextTurn = 0 }
        let company = turns[nextTurn]
        let element = queues[company]!.popFirst()
        count -= 1
        if queues[company]!.isEmpty {
            queues[company] = nil
            turns.remove(at: nextTurn)
        } else {
            nextTurn += 1
        }
        return element
    }

    /// Removes and returns the first element that `matches`, looking through every company.
    mutating func removeFirst(where matches: (Element) -> Bool) -> Element? {
        for (index, company) in turns.enumerated() {
            guard let element = queues[company]!.removeFirst(where: matches) else { continue }
            count -= 1
            if queues[company]!.isEmpty {
                queues[company] = nil
                turns.remove(at: index)
                if nextTurn > index { nextTurn -= 1 }
            }
            return element
        }
        return nil
    }

    /// Takes everything, in turn order.
    mutating func removeAll() -> [Element] {
        var all: [Element] = []
        all.reserveCapacity(count)
        while let element = popFirst() { all.append(element) }
        return all
    }
}
