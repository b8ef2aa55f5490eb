// MARK: - OffsetTracker

/// The offsets of every assigned partition: which fetched records are complete, what may be committed, and how
/// much work is in flight per partition (for backpressure).
///
/// A state machine without I/O: the consumer registers each fetched record, the pipeline completes it, and the
/// caller stores or commits the offsets this returns. A partition's state lives from ``assign(_:position:)``
/// to ``revoke(_:)``; a record from an earlier assignment of the same partition is told apart by its
/// ``Ticket/generation`` and ignored.
public struct OffsetTracker: Sendable {
    /// A registered record, to hand back to ``complete(_:)``.
    public struct Ticket: Sendable, Hashable {
        /// The record's topic, partition and offset.
        public var coordinates: RecordCoordinates
        /// Which assignment of the partition the record was fetched under.
        public var generation: UInt64
    }

    /// What ``revoke(_:)`` found.
    public struct Revocation: Sendable, Hashable {
        /// The offset to commit synchronously before the partition is unassigned; `nil` when no position was
        /// ever known (nothing fetched and no committed offset), so there is nothing to commit.
        public var committableOffset: Int64?
        /// Records that were still incomplete and are dropped: they will be fetched again by the next owner.
        public var incompleteCount: Int
    }

    private struct Assignment: Sendable {
        var generation: UInt64
        var offsets: PartitionOffsets
        var lastCommitted: Int64?
    }

    private var assignments: [PartitionID: Assignment] = [:]
    private var nextGeneration: UInt64 = 1

    /// How many registered records are incomplete, across all partitions.
    public private(set) var totalIncompleteCount = 0

    public init() {}

    /// The partitions currently assigned, in order.
    public var assignedPartitions: [PartitionID] { self.assignments.keys.sorted() }

    // MARK: - Assignment

    /// Starts tracking a partition at its fetch position, replacing any earlier state for it.
    ///
    /// - Parameters:
    ///   - partition: The assigned partition.
    ///   - position: The offset fetching starts from (its committed offset), or `nil` when not known yet; the
    ///     first registered record then sets it.
    public mutating func assign(_ partition: PartitionID, position: Int64?) {
        if let previous = self.assignments[partition] {
            self.totalIncompleteCount -= previous.offsets.incompleteCount
        }
        self.assignments[partition] = Assignment(
            generation: self.nextGeneration,
            offsets: PartitionOffsets(position: position),
            lastCommitted: position
        )
        self.nextGeneration += 1
    }

    /// Stops tracking a partition and returns its final committable offset.
    ///
    /// - Parameter partition: The revoked partition.
    /// - Returns: The final state, or `nil` when the partition was not assigned.
    public mutating func revoke(_ partition: PartitionID) -> Revocation? {
        guard let assignment = self.assignments.removeValue(forKey: partition) else { return nil }
        self.totalIncompleteCount -= assignment.offsets.incompleteCount
        return Revocation(
            committableOffset: assignment.offsets.committableOffset,
            incompleteCount: assignment.offsets.incompleteCount
        )
    }

    // MARK: - Records

    /// Registers a fetched record, in fetch order.
    ///
    /// - Parameter coordinates: The record's topic, partition and offset.
    /// - Returns: The ticket to complete it with, or `nil` when the partition is not assigned or the offset is
    ///   below one already registered (a re-delivery after a seek): such a record must not be processed.
    public mutating func register(_ coordinates: RecordCoordinates) -> Ticket? {
        guard var assignment = self.assignments[coordinates.partitionID] else { return nil }
        guard assignment.offsets.register(offset: coordinates.offset) else { return nil }
        self.assignments[coordinates.partitionID] = assignment
        self.totalIncompleteCount += 1
        return Ticket(coordinates: coordinates, generation: assignment.generation)
    }

    /// Marks a record complete: acknowledged, durably written to a retry or dead-letter topic, or skipped.
    ///
    /// - Parameter ticket: The ticket ``register(_:)`` returned.
    /// - Returns: ``PartitionOffsets/Completion/advanced(to:)`` when the partition's committable offset moved
    ///   (store it), ``PartitionOffsets/Completion/ignored`` when the partition was revoked or reassigned since.
    public mutating func complete(_ ticket: Ticket) -> PartitionOffsets.Completion {
        let partition = ticket.coordinates.partitionID
        guard var assignment = self.assignments[partition], assignment.generation == ticket.generation else {
            return .ignored
        }
        let completion = assignment.offsets.complete(offset: ticket.coordinates.offset)
        self.assignments[partition] = assignment
        if completion != .ignored {
            self.totalIncompleteCount -= 1
        }
        return completion
    }

    /// Moves a partition's committable offset up to the consumer's position when nothing is in flight
    /// (see ``PartitionOffsets/advanceIdle(to:)``).
    ///
    /// - Parameters:
    ///   - partition: The partition.
    ///   - position: The consumer's current fetch position for it.
    /// - Returns: The new committable offset when it moved.
    @discardableResult
    public mutating func advanceIdle(_ partition: PartitionID, to position: Int64) -> Int64? {
        self.assignments[partition]?.offsets.advanceIdle(to: position)
    }

    // MARK: - Queries

    /// The offset that may be committed for a partition, or `nil` when it is not assigned or has no position.
    public func committableOffset(for partition: PartitionID) -> Int64? {
        self.assignments[partition]?.offsets.committableOffset
    }

    /// How many registered records of a partition are incomplete (0 when it is not assigned).
    public func incompleteCount(for partition: PartitionID) -> Int {
        self.assignments[partition]?.offsets.incompleteCount ?? 0
    }

    /// How many records of a partition are held in memory: incomplete ones and complete ones behind them.
    public func trackedCount(for partition: PartitionID) -> Int {
        self.assignments[partition]?.offsets.trackedCount ?? 0
    }

    // MARK: - Commits

    /// The committable offsets that moved since they were last marked committed, for a periodic commit.
    public func uncommittedOffsets() -> [PartitionID: Int64] {
        var result: [PartitionID: Int64] = [:]
        for (partition, assignment) in self.assignments {
            if let committable = assignment.offsets.committableOffset, committable != assignment.lastCommitted {
                result[partition] = committable
            }
        }
        return result
    }

    /// Records that offsets were committed, so ``uncommittedOffsets()`` stops returning them. Partitions no
    /// longer assigned are ignored.
    ///
    /// - Parameter offsets: The offsets the broker accepted.
    public mutating func markCommitted(_ offsets: [PartitionID: Int64]) {
        for (partition, offset) in offsets {
            guard let lastCommitted = self.assignments[partition]?.lastCommitted else {
                if self.assignments[partition] != nil {
                    self.assignments[partition]?.lastCommitted = offset
                }
                continue
            }
            self.assignments[partition]?.lastCommitted = max(lastCommitted, offset)
        }
    }
}
