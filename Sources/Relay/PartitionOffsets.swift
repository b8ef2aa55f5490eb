// MARK: - PartitionOffsets

/// Tracks which fetched records of one partition are complete, and the offset
/// that may be committed: the highest contiguous complete offset + 1 (SPEC.md §6).
///
/// Records are registered in the order they are fetched; their offsets increase
/// but may have gaps (compacted topics, transaction markers), and a gap never
/// blocks the committable offset because only fetched offsets are tracked.
/// Completion may happen in any order. Registering and completing are amortized
/// O(1); completed records at the front are dropped at once, so memory is
/// proportional to the records still in flight plus those completed behind an
/// incomplete one.
public struct PartitionOffsets: Sendable {
    /// What ``complete(offset:)`` did.
    public enum Completion: Sendable, Hashable {
        /// The committable offset moved forward to the associated value: store or commit it.
        case advanced(to: Int64)
        /// Recorded, but an earlier record is still incomplete, so the committable offset did not move.
        case pending
        /// The offset is not tracked (never registered, already complete, or from an earlier assignment).
        case ignored
    }

    private struct Entry: Sendable {
        var offset: Int64
        var isComplete: Bool
    }

    private var entries = FIFOBuffer<Entry>()
    private var nextFetchOffset: Int64?

    /// The offset to commit: every fetched record below it is complete, and nothing at or above it is
    /// known to be complete and contiguous. `nil` until a position is known (see ``init(position:)``).
    public private(set) var committableOffset: Int64?

    /// How many registered records are not complete yet.
    public private(set) var incompleteCount = 0

    /// - Parameter position: The offset the consumer fetches from (the committed offset), or `nil` when
    ///   librdkafka has not resolved it yet; the first registered record then sets it.
    public init(position: Int64?) {
        self.committableOffset = position
        self.nextFetchOffset = position
    }

    /// How many records are held: incomplete ones plus complete ones waiting behind an incomplete one.
    public var trackedCount: Int { self.entries.count }

    /// Registers a fetched record.
    ///
    /// - Parameter offset: The record's offset; must be above every offset registered before and not below the
    ///   fetch position.
    /// - Returns: `false` (and tracks nothing) when the offset goes backwards: the consumer re-delivered a record
    ///   it already handed out, which only happens after a seek, and a seek needs a fresh ``PartitionOffsets``.
    @discardableResult
    public mutating func register(offset: Int64) -> Bool {
        if let nextFetchOffset, offset < nextFetchOffset {
            return false
        }
        if self.committableOffset == nil {
            self.committableOffset = offset
        }
        self.nextFetchOffset = offset + 1
        self.entries.append(Entry(offset: offset, isComplete: false))
        self.incompleteCount += 1
        return true
    }

    /// Marks a registered record complete.
    ///
    /// - Parameter offset: The record's offset.
    /// - Returns: Whether the committable offset advanced.
    public mutating func complete(offset: Int64) -> Completion {
        guard let position = self.position(of: offset), !self.entries[position].isComplete else {
            return .ignored
        }
        self.entries[position].isComplete = true
        self.incompleteCount -= 1
        guard position == 0 else { return .pending }
        var committable = offset + 1
        while let first = self.entries.first, first.isComplete {
            committable = first.offset + 1
            self.entries.removeFirst()
        }
        self.committableOffset = committable
        return .advanced(to: committable)
    }

    /// Moves the committable offset up to the consumer's position when nothing is in flight, so that offsets
    /// the consumer skipped without handing out a record (trailing transaction markers, compacted tails) do
    /// not show as lag.
    ///
    /// - Parameter position: The consumer's current fetch position for this partition.
    /// - Returns: The new committable offset when it moved, `nil` otherwise.
    @discardableResult
    public mutating func advanceIdle(to position: Int64) -> Int64? {
        guard self.entries.isEmpty else { return nil }
        if let committableOffset, committableOffset >= position {
            return nil
        }
        self.committableOffset = position
        self.nextFetchOffset = max(self.nextFetchOffset ?? position, position)
        return position
    }

    // MARK: - Lookup

    /// The position of `offset` in `entries`, in O(1) when the offsets since the front have no gaps and
    /// O(log n) otherwise.
    private func position(of offset: Int64) -> Int? {
        guard let front = self.entries.first?.offset, offset >= front else { return nil }
        let distance = offset - front
        let count = self.entries.count
        if distance < Int64(count), self.entries[Int(distance)].offset == offset {
            return Int(distance)
        }
        // With gaps, the entry sits before `distance`: binary search the offsets, which increase.
        var low = 0
        var high = Int(min(distance, Int64(count - 1)))
        while low <= high {
            let middle = (low + high) / 2
            let candidate = self.entries[middle].offset
            if candidate == offset {
                return middle
            } else if candidate < offset {
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return nil
    }
}
