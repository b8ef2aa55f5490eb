// MARK: - FetchGate

/// Which assigned partitions the consumer must pause, combining every reason to stop fetching: backpressure,
/// an API outage and a credentials fault stop all partitions; waiting for a retry record's `not_before` stops
/// only its partition (SPEC.md §6). A partition is fetched only when no reason holds it.
///
/// A state machine without I/O: each call returns the partitions whose paused state changed, for the caller to
/// pass to the consumer's pause and resume. The consumer keeps polling while partitions are paused.
public struct FetchGate: Sendable {
    /// Why fetching stops.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case backpressure
            case apiOutage = "api_outage"
            case credentials
            case notBefore = "not_before"
            case draining
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Too many records are buffered (``KeyedDispatcher/Backpressure``).
        public static let backpressure = Reason(.backpressure)
        /// The API is down as a whole (``OutageDetector``).
        public static let apiOutage = Reason(.apiOutage)
        /// The API refused the key (``CredentialsGate``).
        public static let credentials = Reason(.credentials)
        /// A retry record's `affonso-relay.not_before` is in the future.
        public static let notBefore = Reason(.notBefore)
        /// The relay is shutting down or the partition is being revoked.
        public static let draining = Reason(.draining)

        /// A label-safe name for logs and metrics.
        public var description: String { self.base.rawValue }
    }

    /// Partitions whose paused state changed.
    public struct Changes: Sendable, Hashable {
        /// Partitions to pause, in order.
        public var pause: [PartitionID] = []
        /// Partitions to resume, in order.
        public var resume: [PartitionID] = []

        /// Whether nothing changed.
        public var isEmpty: Bool { self.pause.isEmpty && self.resume.isEmpty }
    }

    private var globalReasons: Set<Reason> = []
    private var partitionReasons: [PartitionID: Set<Reason>] = [:]

    public init() {}

    /// The reasons that hold every partition.
    public var reasonsForAll: Set<Reason> { self.globalReasons }

    /// Whether a partition is paused (`false` when it is not assigned).
    public func isPaused(_ partition: PartitionID) -> Bool {
        guard let reasons = self.partitionReasons[partition] else { return false }
        return !reasons.isEmpty || !self.globalReasons.isEmpty
    }

    /// Every reason that holds a partition, its own and global ones.
    public func reasons(for partition: PartitionID) -> Set<Reason> {
        guard let reasons = self.partitionReasons[partition] else { return [] }
        return reasons.union(self.globalReasons)
    }

    /// The assigned partitions that are paused, in order: for the paused-partitions gauge.
    public var pausedPartitions: [PartitionID] {
        self.partitionReasons.keys.filter { self.isPaused($0) }.sorted()
    }

    // MARK: - Assignment

    /// Adds newly assigned partitions.
    ///
    /// - Parameter partitions: The assigned partitions.
    /// - Returns: The ones to pause at once because a global reason holds (a new assignment starts fetching).
    public mutating func assign(_ partitions: [PartitionID]) -> Changes {
        var changes = Changes()
        for partition in partitions.sorted() where self.partitionReasons[partition] == nil {
            self.partitionReasons[partition] = []
            if !self.globalReasons.isEmpty {
                changes.pause.append(partition)
            }
        }
        return changes
    }

    /// Forgets revoked partitions; the consumer drops their pause state when it unassigns them.
    ///
    /// - Parameter partitions: The revoked partitions.
    public mutating func revoke(_ partitions: [PartitionID]) {
        for partition in partitions {
            self.partitionReasons[partition] = nil
        }
    }

    // MARK: - Reasons

    /// Holds every assigned partition for a reason.
    ///
    /// - Parameter reason: Why fetching stops.
    /// - Returns: The partitions that became paused.
    public mutating func pauseAll(for reason: Reason) -> Changes {
        let before = Set(self.pausedPartitions)
        self.globalReasons.insert(reason)
        return self.changes(from: before)
    }

    /// Releases a reason that held every partition.
    ///
    /// - Parameter reason: The reason that no longer holds.
    /// - Returns: The partitions that no other reason holds, to resume.
    public mutating func resumeAll(for reason: Reason) -> Changes {
        let before = Set(self.pausedPartitions)
        self.globalReasons.remove(reason)
        return self.changes(from: before)
    }

    /// Holds one partition for a reason. Ignored when the partition is not assigned.
    ///
    /// - Parameters:
    ///   - partition: The partition.
    ///   - reason: Why fetching it stops.
    /// - Returns: The partition, when it became paused.
    public mutating func pause(_ partition: PartitionID, for reason: Reason) -> Changes {
        let before = Set(self.pausedPartitions)
        if self.partitionReasons[partition] != nil {
            self.partitionReasons[partition]!.insert(reason)
        }
        return self.changes(from: before)
    }

    /// Releases a reason that held one partition.
    ///
    /// - Parameters:
    ///   - partition: The partition.
    ///   - reason: The reason that no longer holds.
    /// - Returns: The partition, when nothing else holds it.
    public mutating func resume(_ partition: PartitionID, for reason: Reason) -> Changes {
        let before = Set(self.pausedPartitions)
        self.partitionReasons[partition]?.remove(reason)
        return self.changes(from: before)
    }

    private func changes(from before: Set<PartitionID>) -> Changes {
        let after = Set(self.pausedPartitions)
        return Changes(pause: after.subtracting(before).sorted(), resume: before.subtracting(after).sorted())
    }
}
