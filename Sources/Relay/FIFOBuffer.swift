// MARK: - FIFOBuffer

/// A first-in, first-out queue with amortized O(1) append and removal at the front.
///
/// Backed by an array and a head index. A removed element's slot is cleared at once, so the queue never keeps
/// what it handed out alive (a job holds its record: a lane that never empties would otherwise keep up to a
/// thousand delivered records in memory); the consumed prefix is dropped once it is at least half of the storage.
struct FIFOBuffer<Element> {
    private var storage: [Element?] = []
    private var head = 0

    init() {}

    var isEmpty: Bool { self.head == self.storage.count }

    var count: Int { self.storage.count - self.head }

    var first: Element? { self.isEmpty ? nil : self.storage[self.head] }

    var last: Element? { self.isEmpty ? nil : self.storage[self.storage.count - 1] }

    /// The element at `position` counted from the front (0 is the first element).
    subscript(position: Int) -> Element {
        get { self.storage[self.head + position]! }
        set { self.storage[self.head + position] = newValue }
    }

    mutating func append(_ element: Element) {
        self.storage.append(element)
    }

    @discardableResult
    mutating func removeFirst() -> Element {
        precondition(!self.isEmpty, "removeFirst on an empty FIFOBuffer")
        let element = self.storage[self.head].take()!
        self.head += 1
        self.compactIfNeeded()
        return element
    }

    mutating func popFirst() -> Element? {
        self.isEmpty ? nil : self.removeFirst()
    }

    /// Removes every element for which `shouldRemove` is true, keeping the order of the rest. O(n).
    mutating func removeAll(where shouldRemove: (Element) -> Bool) -> [Element] {
        var kept: [Element?] = []
        var removed: [Element] = []
        kept.reserveCapacity(self.count)
        for position in self.head..<self.storage.count {
            let element = self.storage[position]!
            if shouldRemove(element) {
                removed.append(element)
            } else {
                kept.append(element)
            }
        }
        self.storage = kept
        self.head = 0
        return removed
    }

    /// The elements from front to back.
    var elements: LazyMapSequence<ArraySlice<Element?>, Element> { self.storage[self.head...].lazy.map { $0! } }

    private mutating func compactIfNeeded() {
        if self.head == self.storage.count {
            self.storage.removeAll(keepingCapacity: self.storage.count <= 4096)
            self.head = 0
        } else if self.head >= 1024 && self.head * 2 >= self.storage.count {
            self.storage.removeFirst(self.head)
            self.head = 0
        }
    }
}

extension FIFOBuffer: Sendable where Element: Sendable {}
