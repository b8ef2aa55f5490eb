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
    /// When to pause and resume fetching, and how much may run at once.
    public struct Configuration: Sendable, Hashable {
        /// How many records may be in flight at once, across all partitions (`delivery.max_in_flight`).
        /// Default: 256.
        public var maximumInFlight: Int
        /// Which records are delivered in offset order. Default: ``DeliveryOrdering/key``.
        public var ordering: DeliveryOrdering
        /// Pause fetching when this many records are accepted and unfinished (in flight plus queued).
        /// Default: 2 × `maximumInFlight`.
        public var pauseThreshold: Int
        /// Resume fetching when no more than this many records are accepted and unfinished.
        /// Default: `maximumInFlight`.
        public var resumeThreshold: Int

        /// - Parameters:
        ///   - maximumInFlight: How many records may be in flight at once; at least 1.
        ///   - ordering: Which records are delivered in offset order.
        ///   - pauseThreshold: Pause when this many are buffered; defaults to 2 × `maximumInFlight`.
        ///   - resumeThreshold: Resume when no more are buffered; defaults to `maximumInFlight`, and is kept
        ///     below `pauseThreshold`.
        public init(
            maximumInFlight: Int = 256,
            ordering: DeliveryOrdering = .key,
            pauseThreshold: Int? = nil,
            resumeThreshold: Int? = nil
        ) {
            let maximumInFlight = max(1, maximumInFlight)
            self.maximumInFlight = maximumInFlight
            self.ordering = ordering
            let pause = max(1, pauseThreshold ?? 2 * maximumInFlight)
            self.pauseThreshold = pause
            self.resumeThreshold = min(max(0, resumeThreshold ?? maximumInFlight), pause - 1)
        }
    }

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

    fileprivate struct Lane {
        /// Whether the lane's head job is running (otherwise it is in `ready`).
        var isRunning = false
        /// Jobs behind the head, in submission order.
        var waiting = FIFOBuffer<Job>()
    }

    /// The configuration.
    public let configuration: Configuration

    private var lanes: [DispatchLane: Lane] = [:]
    /// Jobs whose lane is free (or that have no lane), waiting for room in flight, in submission order.
    private var ready = FIFOBuffer<Job>()
    private var running: Set<UInt64> = []
    private var bufferedByPartition: [PartitionID: Int] = [:]
    private var nextSequence: UInt64 = 0

    /// How many jobs are accepted and not started.
    public private(set) var queuedCount = 0

    /// Whether fetching is paused for backpressure (the last ``Backpressure`` returned was `.pause`).
    public private(set) var isPaused = false

    /// - Parameter configuration: How much may run at once, the ordering, and the backpressure thresholds.
    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// How many jobs are started and not finished.
    public var inFlightCount: Int { self.running.count }

    /// How many jobs are accepted and not finished: in flight plus queued.
    public var bufferedCount: Int { self.running.count + self.queuedCount }

    /// How many jobs of a partition are accepted and not finished.
    public func bufferedCount(for partition: PartitionID) -> Int {
        self.bufferedByPartition[partition] ?? 0
    }

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
        self.bufferedByPartition[partition, default: 0] += 1

        if let lane {
            if self.lanes[lane] != nil {
                self.lanes[lane]!.waiting.append(job)
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
    /// - Parameter job: A job returned in ``Action/start``. Finishing a job twice, or one never started, has
    ///   no effect.
    /// - Returns: The jobs to start now and any change of fetching.
    public mutating func finish(_ job: Job) -> Action {
        guard self.running.remove(job.sequence) != nil else {
            return Action(start: [], backpressure: nil)
        }
        self.decrementBuffered(job.partition)
        if let lane = job.lane, var state = self.lanes.removeValue(forKey: lane) {
            if let next = state.waiting.popFirst() {
                state.isRunning = false
                self.lanes[lane] = state
                self.ready.append(next)
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
        for (lane, state) in self.lanes where lane.partition == partition {
            dropped.append(contentsOf: state.waiting.elements)
            if state.isRunning {
                self.lanes[lane]!.waiting = FIFOBuffer()
            } else {
                self.lanes[lane] = nil
            }
        }
        dropped.sort { $0.sequence < $1.sequence }
        self.queuedCount -= dropped.count
        for job in dropped {
            self.decrementBuffered(job.partition)
        }
        return (dropped.map(\.element), self.makeAction())
    }

    // MARK: - Helpers

    private mutating func decrementBuffered(_ partition: PartitionID) {
        let remaining = (self.bufferedByPartition[partition] ?? 1) - 1
        self.bufferedByPartition[partition] = remaining > 0 ? remaining : nil
    }

    private mutating func makeAction() -> Action {
        var start: [Job] = []
        while self.running.count < self.configuration.maximumInFlight, let job = self.ready.popFirst() {
            if let lane = job.lane {
                self.lanes[lane]?.isRunning = true
            }
            self.running.insert(job.sequence)
            self.queuedCount -= 1
            start.append(job)
        }
        var backpressure: Backpressure?
        if !self.isPaused && self.bufferedCount >= self.configuration.pauseThreshold {
            self.isPaused = true
            backpressure = .pause
        } else if self.isPaused && self.bufferedCount <= self.configuration.resumeThreshold {
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
