import KafkaClient

// MARK: - State

extension DeliveryPipeline {
    /// Everything the pipeline knows, behind one lock. Methods decide; the pipeline acts on what they return.
    struct State {
        /// What the pipeline must do after a decision, outside the lock.
        struct Actions {
            var start: [KeyedDispatcher<EventJob>.Job] = []
            var offsetsToStore: [(PartitionID, Int64)] = []
            var pausesChanged = false

            fileprivate mutating func merge(
                _ action: KeyedDispatcher<EventJob>.Action, _ running: inout [PartitionID: Int]
            ) {
                start.append(contentsOf: action.start)
                for job in action.start { running[job.partition, default: 0] += 1 }
                if action.backpressure != nil { pausesChanged = true }
            }
        }

        var tracker = OffsetTracker()
        var dispatcher: KeyedDispatcher<EventJob>
        /// Jobs started and not finished, per partition (revoked partitions drain these).
        var running: [PartitionID: Int] = [:]
        /// Events still unfinished per record; a record is complete when its count reaches zero.
        var remaining: [OffsetTracker.Ticket: Int] = [:]
        /// Retry records waiting for their `not_before`, per retry partition, in offset order.
        var held: [PartitionID: [KafkaConsumerMessage]] = [:]
        /// Retry partitions whose due records are being released: records arriving meanwhile queue in `held`.
        var releasing: Set<PartitionID> = []
        var outage: OutageDetector
        var credentials: CredentialsGate
        /// Partitions being revoked: new records of theirs are ignored (their next owner reads them).
        var revoking: Set<PartitionID> = []
        /// Graceful shutdown started.
        var isDraining = false
        /// When a graceful shutdown must be over, once it started.
        var shutdownDeadline: ContinuousClock.Instant?
        /// Partitions that should be paused, as of the last ``pauseChanges(actual:)``.
        var paused: Set<PartitionID> = []

        init(configuration: DeliveryPipelineConfiguration) {
            dispatcher = KeyedDispatcher(configuration: configuration.delivery.dispatcherConfiguration)
            outage = OutageDetector(configuration: configuration.outage)
            credentials = CredentialsGate(probeInterval: configuration.credentialsProbeInterval)
        }

        var isReady: Bool { credentials.isReady && !outage.isDown && !isDraining && !producerFailed }

        /// The producer failed fatally: retry and dead-letter records cannot be written until a restart.
        var producerFailed = false

        /// Notes a fatal producer error; true the first time.
        mutating func recordProducerFailure() -> Bool {
            defer { producerFailed = true }
            return !producerFailed
        }

        /// Whether jobs may send requests (as opposed to waiting for a probe to clear a fault).
        var isDeliveryOpen: Bool { credentials.isReady && !outage.isDown }

        // MARK: Records

        /// Registers a fetched record, unless its partition is being revoked or is not assigned.
        mutating func register(_ coordinates: RecordCoordinates) -> OffsetTracker.Ticket? {
            guard !revoking.contains(coordinates.partitionID) else { return nil }
            return tracker.register(coordinates)
        }

        /// What to do with a record read from a retry tier.
        enum Reception: Equatable {
            /// Map and dispatch it now; `nil` when it cannot be registered (its partition is being revoked).
            case process(OffsetTracker.Ticket?)
            /// Held behind its own `not_before` or behind held records of its partition; `startTimer` when it is
            /// the first held record, so a release must be scheduled.
            case held(startTimer: Bool)
        }

        /// Holds a retry record that is not due, or one whose partition has held or releasing records (so the
        /// partition's records are registered in offset order); registers it otherwise.
        mutating func receive(_ message: KafkaConsumerMessage, notDueFor delay: Duration?) -> Reception {
            let partition = message.topicPartition
            if held[partition] != nil || releasing.contains(partition) {
                held[partition, default: []].append(message)
                return .held(startTimer: held[partition]!.count == 1 && delay != nil)
            }
            guard delay != nil else {
                return .process(register(RecordCoordinates(message)))
            }
            held[partition] = [message]
            return .held(startTimer: true)
        }

        /// Starts releasing a partition's held records; false when a release is already running (it will take
        /// what is due) or nothing is held.
        mutating func beginRelease(_ partition: PartitionID) -> Bool {
            guard held[partition] != nil, !releasing.contains(partition) else { return false }
            releasing.insert(partition)
            return true
        }

        /// Takes the due records at the front of a releasing partition's held queue, registered in order.
        /// - Returns: the due records with their tickets (those that could be registered), whether any record was
        ///   taken (when none was, the release has ended), and how long until the front record is due, if one is
        ///   left.
        mutating func takeDue(
            _ partition: PartitionID, remainingDelay: (KafkaConsumerMessage) -> Duration?
        ) -> (due: [(KafkaConsumerMessage, OffsetTracker.Ticket)], tookAny: Bool, next: Duration?) {
            var due: [(KafkaConsumerMessage, OffsetTracker.Ticket)] = []
            var queue = held[partition] ?? []
            var next: Duration?
            var taken = 0
            for message in queue {
                if let delay = remainingDelay(message) {
                    next = delay
                    break
                }
                taken += 1
                if let ticket = register(RecordCoordinates(message)) { due.append((message, ticket)) }
            }
            queue.removeFirst(taken)
            held[partition] = queue.isEmpty ? nil : queue
            if taken == 0 { releasing.remove(partition) }
            return (due, taken > 0, next)
        }

        /// Submits a record's jobs; a record without any is complete at once.
        mutating func submit(
            _ jobs: [EventJob], for ticket: OffsetTracker.Ticket, key: [UInt8]?
        ) -> Actions {
            var actions = Actions()
            guard !jobs.isEmpty else {
                complete(ticket, &actions)
                return actions
            }
            remaining[ticket] = jobs.count
            for job in jobs {
                let action = dispatcher.submit(job, partition: ticket.coordinates.partitionID, key: key)
                actions.merge(action, &running)
            }
            return actions
        }

        /// A job is done (delivered, or durably routed to a retry or dead-letter topic).
        mutating func finish(_ job: KeyedDispatcher<EventJob>.Job) -> Actions {
            var actions = Actions()
            finishRunning(job)
            actions.merge(dispatcher.finish(job), &running)
            let ticket = job.element.ticket
            if let count = remaining[ticket] {
                if count <= 1 {
                    remaining[ticket] = nil
                    complete(ticket, &actions)
                } else {
                    remaining[ticket] = count - 1
                }
            }
            return actions
        }

        /// A job was abandoned (cancelled at shutdown): the dispatcher frees its slot; its record stays incomplete.
        mutating func abandon(_ job: KeyedDispatcher<EventJob>.Job) -> Actions {
            var actions = Actions()
            finishRunning(job)
            actions.merge(dispatcher.finish(job), &running)
            remaining[job.element.ticket] = nil
            return actions
        }

        private mutating func finishRunning(_ job: KeyedDispatcher<EventJob>.Job) {
            let count = (running[job.partition] ?? 1) - 1
            running[job.partition] = count > 0 ? count : nil
        }

        private mutating func complete(_ ticket: OffsetTracker.Ticket, _ actions: inout Actions) {
            if case .advanced(let offset) = tracker.complete(ticket) {
                actions.offsetsToStore.append((ticket.coordinates.partitionID, offset))
            }
        }

        // MARK: Gates

        /// What a request learnt about the API, for the outage detector and the credentials gate.
        enum Answer: Equatable {
            /// The API answered and accepted the key (2xx, 429, or a 4xx other than 401/403).
            case answered
            /// The API refused the key (401 or 403).
            case refusedKey(status: Int)
            /// No answer about the API: a 5xx, a timeout, a connection error.
            case unanswered
            /// The request was cancelled before it was answered.
            case abandoned
        }

        /// How the gates changed: what to log and whether fetching must be recomputed.
        struct GateChanges: Equatable {
            var outageStopped = false
            var outageResumed = false
            /// The status of a credentials fault that started now.
            var credentialsFaulted: Int?
            var credentialsResumed = false

            var pausesChanged: Bool {
                outageStopped || outageResumed || credentialsFaulted != nil || credentialsResumed
            }
        }

        /// Feeds one answer to the gates. Every answer to a probe moves its gate on: open again, or faulted with a
        /// next probe time, so no gate stays closed with nobody probing.
        mutating func record(_ answer: Answer, turn: Turn, now: ContinuousClock.Instant) -> GateChanges {
            var changes = GateChanges()
            switch (turn, answer) {
            case (.regular, .answered):
                _ = outage.record(.answered, now: now)
                changes.credentialsResumed = credentials.recordAuthorized() == .resumeFetching
            case (.regular, .refusedKey(let status)):
                changes.credentialsFaulted = credentials.recordFault(status: status, now: now) != nil ? status : nil
            case (.regular, .unanswered):
                changes.outageStopped = outage.record(.transientFailure, now: now) == .stopFetching
            case (.regular, .abandoned):
                break
            case (.outageProbe, .answered):
                changes.outageResumed = outage.recordProbe(.answered, now: now) == .resumeFetching
            case (.outageProbe, .refusedKey(let status)):
                // The API answers, so it is up; the key is the problem now.
                changes.outageResumed = outage.recordProbe(.answered, now: now) == .resumeFetching
                changes.credentialsFaulted = credentials.recordFault(status: status, now: now) != nil ? status : nil
            case (.outageProbe, .unanswered):
                _ = outage.recordProbe(.transientFailure, now: now)
            case (.outageProbe, .abandoned):
                outage.abandonProbe(now: now)
            case (.credentialsProbe, .answered):
                changes.credentialsResumed =
                    credentials.recordProbe(authorized: true, now: now) == .resumeFetching
            case (.credentialsProbe, .refusedKey(let status)):
                _ = credentials.recordProbe(authorized: false, status: status, now: now)
            case (.credentialsProbe, .unanswered):
                credentials.recordProbeUnanswered(now: now)
                changes.outageStopped = outage.record(.transientFailure, now: now) == .stopFetching
            case (.credentialsProbe, .abandoned):
                credentials.abandonProbe(now: now)
            }
            return changes
        }

        /// Whether a request may be sent now, or which probe it is to send; otherwise how long to wait.
        mutating func turn(now: ContinuousClock.Instant) -> (turn: Turn?, wait: Duration) {
            if isDeliveryOpen { return (.regular, .zero) }
            if !credentials.isReady {
                if credentials.startProbeIfDue(now: now) { return (.credentialsProbe, .zero) }
                return (nil, credentials.nextProbeTime.map { $0 - now } ?? .seconds(1))
            }
            if outage.startProbeIfDue(now: now) { return (.outageProbe, .zero) }
            return (nil, outage.nextProbeTime.map { $0 - now } ?? .seconds(1))
        }

        // MARK: Rebalance

        mutating func assign(_ partitions: [PartitionID]) {
            for partition in partitions {
                tracker.assign(partition, position: nil)
                revoking.remove(partition)
                paused.remove(partition)
            }
        }

        /// Stops dispatching revoked partitions: queued jobs and held retry records are dropped (uncommitted).
        mutating func beginRevoke(_ partitions: [PartitionID]) -> Actions {
            var actions = Actions()
            for partition in partitions {
                revoking.insert(partition)
                held[partition] = nil
                let (dropped, action) = dispatcher.revoke(partition)
                for job in dropped { remaining[job.ticket] = nil }
                actions.merge(action, &running)
            }
            return actions
        }

        func inFlightCount(of partitions: [PartitionID]) -> Int {
            partitions.reduce(0) { $0 + (running[$1] ?? 0) }
        }

        /// Forgets revoked or lost partitions; returns the final offsets to store for revoked ones.
        mutating func endRevoke(_ partitions: [PartitionID]) -> [(PartitionID, Int64)] {
            var offsets: [(PartitionID, Int64)] = []
            for partition in partitions {
                if let offset = tracker.revoke(partition)?.committableOffset {
                    offsets.append((partition, offset))
                }
                remaining = remaining.filter { $0.key.coordinates.partitionID != partition }
                revoking.remove(partition)
                paused.remove(partition)
                held[partition] = nil
                releasing.remove(partition)
            }
            return offsets
        }

        // MARK: Pauses

        /// A partition is fetched unless too much is buffered, the API is down or refuses the key, a drain
        /// started, or it is a retry partition waiting for a record's `not_before`.
        func shouldPause(_ partition: PartitionID) -> Bool {
            dispatcher.isPaused || !isDeliveryOpen || isDraining || held[partition] != nil
        }

        /// The partitions to pause and resume so that what the consumer has paused (`actual`, read from it)
        /// matches ``shouldPause(_:)``. Reconciling with the consumer's own set, not with a copy kept here, means
        /// the two can never disagree: after a reassignment (every partition starts unpaused) or a lost
        /// partition, the next call puts fetching right.
        mutating func pauseChanges(
            actual: Set<PartitionID>
        ) -> (pause: [PartitionID], resume: [PartitionID], pausedCount: Int) {
            var pause: [PartitionID] = []
            var resume: [PartitionID] = []
            paused = []
            for partition in tracker.assignedPartitions where !revoking.contains(partition) {
                let should = shouldPause(partition)
                if should { paused.insert(partition) }
                if should, !actual.contains(partition) {
                    pause.append(partition)
                } else if !should, actual.contains(partition) {
                    resume.append(partition)
                }
            }
            return (pause, resume, paused.count)
        }
    }
}
