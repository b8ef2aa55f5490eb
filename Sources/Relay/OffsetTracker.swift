// MARK: - OffsetTracker

/// The offsets of every assigned partition: which fetched records are complete, what may be committed, and how
/// much work is in flight per partition (for backpressure and draining).
///
/// A state machine without I/O: the consumer registers each fetched record, the pipeline completes it, and the
/// caller stores or commits the offsets this returns. A partition's state lives from ``assign(_:position:)``
/// to ``revoke(_:)``; a record from an earlier assignment of the same partition is told apart by its
/// ``Ticket/generation`` and ignored. Registering costs one hash lookup, completing none.
public struct OffsetTracker: Sendable {
    /// A registered record, to hand back to ``complete(_:)``.
    public struct Ticket: Sendable, Hashable {
        /// The record's topic, partition and offset.
        public let coordinates: RecordCoordinates
        /// Which assignment of the partition the record was fetched under.
        public let generation: UInt64
        /// Where the partition's state is stored.
        fileprivate let slot: Int

        /// The slot stands for the partition (one assignment per slot at a time), so the topic's bytes are not
        /// hashed: the pipeline looks a ticket up several times per event. Equality still compares everything.
        public func hash(into hasher: inout Hasher) {
            hasher.combine(slot)
            hasher.combine(generation)
            hasher.combine(coordinates.offset)
        }
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
        var partition: PartitionID
        var generation: UInt64
        var offsets: PartitionOffsets
        var lastCommitted: Int64?
    }

    /// Partition states by slot; a revoked partition's slot is reused.
    private var slots: [Assignment?] = []
    private var freeSlots: [Int] = []
    private var slotByPartition: [PartitionID: Int] = [:]
    private var nextGeneration: UInt64 = 1

    /// How many registered records are incomplete, across all partitions.
    public private(set) var totalIncompleteCount = 0

    public init() {}

    /// The partitions currently assigned, in order.
    public var assignedPartitions: [PartitionID] { self.slotByPartition.keys.sorted() }

    // MARK: - Assignment

    /// Starts tracking a partition at its fetch position, replacing any earlier state for it.
    ///
    /// - Parameters:
    ///   - partition: The assigned partition.
    ///   - position: The offset fetching starts from (its committed offset), or `nil` when not known yet; the
    ///     first registered record then sets it.
    public mutating func assign(_ partition: PartitionID, position: Int64?) {
        _ = self.revoke(partition)
        let assignment = Assignment(
            partition: partition,
            generation: self.nextGeneration,
            offsets: PartitionOffsets(position: position),
            lastCommitted: position
        )
        self.nextGeneration += 1
        if let slot = self.freeSlots.popLast() {
            self.slots[slot] = assignment
            self.slotByPartition[partition] = slot
        } else {
            self.slotByPartition[partition] = self.slots.count
            self.slots.append(assignment)
        }
    }

    /// Stops tracking a partition and returns its final committable offset.
    ///
    /// - Parameter partition: The revoked partition.
    /// - Returns: The final state, or `nil` when the partition was not assigned.
    public mutating func revoke(_ partition: PartitionID) -> Revocation? {
        guard let slot = self.slotByPartition.removeValue(forKey: partition), let assignment = self.slots[slot] else {
            return nil
        }
        self.slots[slot] = nil
        self.freeSlots.append(slot)
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
        guard let slot = self.slotByPartition[coordinates.partitionID],
            self.slots[slot]!.offsets.register(offset: coordinates.offset)
        else { return nil }
        self.totalIncompleteCount += 1
        return Ticket(coordinates: coordinates, generation: self.slots[slot]!.generation, slot: slot)
    }

    /// Marks a record complete: acknowledged, durably written to a retry or dead-letter topic, or skipped.
    ///
    /// - Parameter ticket: The ticket ``register(_:)`` returned.
    /// - Returns: ``PartitionOffsets/Completion/advanced(to:)`` when the partition's committable offset moved
    ///   (store it), ``PartitionOffsets/Completion/ignored`` when the partition was revoked or reassigned since.
    public mutating func complete(_ ticket: Ticket) -> PartitionOffsets.Completion {
        guard ticket.slot < self.slots.count, self.slots[ticket.slot]?.generation == ticket.generation else {
            return .ignored
        }
        let completion = self.slots[ticket.slot]!.offsets.complete(offset: ticket.coordinates.offset)
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
        guard let slot = self.slotByPartition[partition] else { return nil }
        return self.slots[slot]!.offsets.advanceIdle(to: position)
    }

    // MARK: - Queries

    /// The offset that may be committed for a partition, or `nil` when it is not assigned or has no position.
    public func committableOffset(for partition: PartitionID) -> Int64? {
        self.assignment(partition)?.offsets.committableOffset
    }

    /// How many registered records of a partition are incomplete (0 when it is not assigned): what a revoke or
    /// shutdown waits for.
    public func incompleteCount(for partition: PartitionID) -> Int {
        self.assignment(partition)?.offsets.incompleteCount ?? 0
    }

    /// How many records of a partition are held in memory: incomplete ones and complete ones behind them.
    public func trackedCount(for partition: PartitionID) -> Int {
        self.assignment(partition)?.offsets.trackedCount ?? 0
    }

    private func assignment(_ partition: PartitionID) -> Assignment? {
        guard let slot = self.slotByPartition[partition] else { return nil }
        return self.slots[slot]
    }

    // MARK: - Commits

    /// The committable offsets that moved since they were last marked committed, for a periodic commit.
    public func uncommittedOffsets() -> [PartitionID: Int64] {
        var result: [PartitionID: Int64] = [:]
        for case let assignment? in self.slots {
            if let committable = assignment.offsets.committableOffset, committable != assignment.lastCommitted {
                result[assignment.partition] = committable
            }
        }
        return result
    }

    /// Records that offsets were committed, so ``uncommittedOffsets()`` stops returning them. Partitions no
    /// longer assigned are ignored, and an offset never moves the record of what was committed backwards.
    ///
    /// - Parameter offsets: The offsets the broker accepted.
    public mutating func markCommitted(_ offsets: [PartitionID: Int64]) {
        for (partition, offset) in offsets {
            guard let slot = self.slotByPartition[partition] else { continue }
            let previous = self.slots[slot]!.lastCommitted ?? offset
            self.slots[slot]!.lastCommitted = max(previous, offset)
        }
    }
}
