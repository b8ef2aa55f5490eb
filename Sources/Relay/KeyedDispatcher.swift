// MARK: - KeyedDispatcher

/// Decides which records may be delivered now (SPEC.md §6): at most `maximumInFlight` at once across all
/// partitions, records of one ordering lane (same partition and key, or same partition) one at a time in the
/// order they were submitted, which is offset order, and other lanes in parallel.
///
/// A state machine without I/O: ``submit(_:partition:key:)`` and ``finish(_:)`` return the jobs to start and,
/// when the number of accepted but unfinished records crosses a threshold, whether the consumer should pause
/// or resume fetching. It never refuses a record: pausing is how the consumer keeps memory bounded, and it keeps
/// polling meanwhile.
///
/// Under ordering `key`, records without a key are ordered by partition: they form one lane per partition, so a
/// keyless record never overtakes an earlier keyless record of its partition (keyed records are not held by
/// them). Keys are compared within a partition only, since offset order means nothing across partitions.
public struct KeyedDispatcher<Element> {
    /// When to pause and resume fetching, and how much may run at once (the same for every element type).
    public typealias Configuration = DispatcherConfiguration

    /// A record that may be delivered now; hand it back to ``finish(_:)`` once it is complete.
    public struct Job {
        /// The submitted element.
        public let element: Element
        /// The record's partition.
        public let partition: PartitionID
        fileprivate let lane: DispatchLane?
        fileprivate let sequence: UInt64
    }

    /// A change of the consumer's fetching.
    public enum Backpressure: Sendable, Hashable {
        /// Too much is buffered: pause the assigned partitions (and keep polling).
        case pause
        /// The buffer drained: resume the partitions paused for backpressure.
        case resume
    }

    /// What the caller should do after a call.
    public struct Action {
        /// Jobs to start now, in order.
        public var start: [Job]
        /// A change of fetching, if the buffer crossed a threshold.
        public var backpressure: Backpressure?
    }

    /// An ordering lane that has a head job (running, or in `ready`): the jobs behind it, in submission order.
    fileprivate struct Lane {
        var waiting = FIFOBuffer<Job>()
    }

    /// The configuration.
    public let configuration: Configuration

    private var lanes: [DispatchLane: Lane] = [:]
    /// Jobs whose lane is free (or that have no lane), waiting for room in flight, in submission order.
    private var ready = FIFOBuffer<Job>()
    private var nextSequence: UInt64 = 0

    /// How many jobs are accepted and not started.
    public private(set) var queuedCount = 0

    /// How many jobs are started and not finished.
    public private(set) var inFlightCount = 0

    /// Whether fetching is paused for backpressure (the last ``Backpressure`` returned was `.pause`).
    public private(set) var isPaused = false

    /// - Parameter configuration: How much may run at once, the ordering, and the backpressure thresholds.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// How many jobs are accepted and not finished: in flight plus queued. (Per partition, ``OffsetTracker``
    /// counts what is incomplete.)
    public var bufferedCount: Int { self.inFlightCount + self.queuedCount }

    // MARK: - Events

    /// Accepts a fetched record. Records must be submitted in offset order per partition.
    ///
    /// - Parameters:
    ///   - element: What to deliver.
    ///   - partition: The record's partition.
    ///   - key: The record's key bytes, or `nil` when it has none.
    /// - Returns: The jobs to start now (this record's, if its lane is free and there is room) and any change of
    ///   fetching.
    public mutating func submit(_ element: Element, partition: PartitionID, key: [UInt8]?) -> Action {
        let lane = self.configuration.ordering.lane(partition: partition, key: key)
        let job = Job(element: element, partition: partition, lane: lane, sequence: self.nextSequence)
        self.nextSequence += 1
        self.queuedCount += 1

        if let lane {
            if let index = self.lanes.index(forKey: lane) {
                self.lanes.values[index].waiting.append(job)
            } else {
                self.lanes[lane] = Lane()
                self.ready.append(job)
            }
        } else {
            self.ready.append(job)
        }
        return self.makeAction()
    }

    /// Reports that a started job is complete (delivered, routed to a retry or dead-letter topic, or skipped).
    ///
    /// - Parameter job: A job returned in ``Action/start``, finished exactly once.
    /// - Returns: The jobs to start now and any change of fetching.
    public mutating func finish(_ job: Job) -> Action {
        precondition(self.inFlightCount > 0, "KeyedDispatcher.finish called more often than jobs were started")
        self.inFlightCount -= 1
        if let lane = job.lane, let index = self.lanes.index(forKey: lane) {
            if let next = self.lanes.values[index].waiting.popFirst() {
                self.ready.append(next)
            } else {
                self.lanes.remove(at: index)
            }
        }
        return self.makeAction()
    }

    /// Stops dispatching a revoked partition: its queued jobs are dropped; its jobs in flight keep running and
    /// are finished as usual.
    ///
    /// - Parameter partition: The revoked partition.
    /// - Returns: The dropped elements in submission order (their records are incomplete and will be fetched again
    ///   by the partition's next owner), and the resulting action (a `resume` when dropping them drained the
    ///   buffer).
    public mutating func revoke(_ partition: PartitionID) -> (dropped: [Element], action: Action) {
        var dropped = self.ready.removeAll { $0.partition == partition }
        // A lane whose head was waiting in `ready` is gone; one whose head runs stays until it finishes.
        let lanesWithoutHead = Set(dropped.compactMap(\.lane))
        for (lane, state) in self.lanes where lane.partition == partition {
            dropped.append(contentsOf: state.waiting.elements)
            if lanesWithoutHead.contains(lane) {
                self.lanes[lane] = nil
            } else {
                self.lanes[lane]!.waiting = FIFOBuffer()
            }
        }
        dropped.sort { $0.sequence < $1.sequence }
        self.queuedCount -= dropped.count
        return (dropped.map(\.element), self.makeAction())
    }

    // MARK: - Helpers

    private mutating func makeAction() -> Action {
        var start: [Job] = []
        while self.inFlightCount < self.configuration.maximumInFlight, let job = self.ready.popFirst() {
            self.inFlightCount += 1
            self.queuedCount -= 1
            start.append(job)
        }
        var backpressure: Backpressure?
        let full = self.bufferedCount >= self.configuration.pauseThreshold
        let drained = self.bufferedCount <= self.configuration.resumeThreshold
        if !self.isPaused && full {
            self.isPaused = true
            backpressure = .pause
        } else if self.isPaused && drained {
            self.isPaused = false
            backpressure = .resume
        }
        return Action(start: start, backpressure: backpressure)
    }
}

extension KeyedDispatcher: Sendable where Element: Sendable {}
extension KeyedDispatcher.Job: Sendable where Element: Sendable {}
extension KeyedDispatcher.Action: Sendable where Element: Sendable {}
extension KeyedDispatcher.Lane: Sendable where Element: Sendable {}
