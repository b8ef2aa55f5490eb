import Foundation
import KafkaClient

// MARK: - Records

extension DeliveryCore {
    /// A registered record for the driver to map with the rules (outside the lock), then hand to
    /// ``mapped(_:jobs:)``.
    struct Mapping: Sendable {
        let message: KafkaConsumerMessage
        /// The relay headers of a retry record.
        let envelope: RetryEnvelope?
        /// Why the relay headers could not be read: the record becomes a dead letter.
        let unusable: String?
        let ticket: OffsetTracker.Ticket
    }

    /// A record the consumer handed out.
    /// - Returns: the mapping to do now, or nil when there is none: the record is held until its `not_before` (or
    ///   behind held records of its partition), or its partition is being revoked or is not assigned (its next owner
    ///   reads it).
    mutating func received(
        _ message: KafkaConsumerMessage, now: ContinuousClock.Instant, date: Date
    ) -> (Mapping?, Actions) {
        guard retryTopics.contains(message.topic) else {
            return (register(message, envelope: nil, unusable: nil), Actions())
        }
        let envelope: RetryEnvelope?
        do {
            envelope = try RetryEnvelope.parse(message.headers)
        } catch {
            return (register(message, envelope: nil, unusable: error.message), Actions())
        }
        let partition = message.topicPartition
        let delay = remainingDelay(of: message, envelope, date: date)
        if held[partition] != nil || releasing.contains(partition) {
            held[partition, default: []].append(message)
            return (nil, Actions())
        }
        guard let delay else {
            return (register(message, envelope: envelope, unusable: nil), Actions())
        }
        held[partition] = [message]
        releaseTimes[partition] = now + delay
        return (nil, Actions(reconcilePauses: true, notices: [.retryHeld(partition, delay: delay)]))
    }

    /// Registers a fetched record, unless its partition is being revoked or is not assigned.
    private mutating func register(
        _ message: KafkaConsumerMessage, envelope: RetryEnvelope?, unusable: String?
    ) -> Mapping? {
        let coordinates = RecordCoordinates(message)
        guard !revoking.contains(coordinates.partitionID), let ticket = tracker.register(coordinates) else {
            return nil
        }
        return Mapping(message: message, envelope: envelope, unusable: unusable, ticket: ticket)
    }

    /// How long a retry record must still wait: its `not_before`, at most its tier's delay after it was written.
    func remainingDelay(of message: KafkaConsumerMessage, _ envelope: RetryEnvelope?, date: Date) -> Duration? {
        envelope?.remainingDelay(
            now: date, recordTimestamp: message.timestampMilliseconds.map(WallClock.date(milliseconds:)),
            tierDelay: tierDelays[message.topic])
    }

    /// A record was mapped: its jobs are submitted; a record without any is complete at once.
    mutating func mapped(_ ticket: OffsetTracker.Ticket, jobs: [EventJob]) -> Actions {
        var actions = Actions()
        guard !jobs.isEmpty else {
            complete(ticket, &actions)
            return sealed(actions)
        }
        remaining[ticket] = jobs.count
        for job in jobs {
            let key = job.message.key
            merge(dispatcher.submit(job, partition: ticket.coordinates.partitionID, key: key), &actions)
        }
        return sealed(actions)
    }

    /// Takes what the dispatcher started: counted as running and queued for the workers.
    mutating func merge(_ action: KeyedDispatcher<EventJob>.Action, _ actions: inout Actions) {
        for job in action.start {
            running[job.partition, default: 0] += 1
            started.append(job)
        }
        actions.started += action.start.count
        if action.backpressure == .resume { actions.intakeOpened = true }
    }

    mutating func complete(_ ticket: OffsetTracker.Ticket, _ actions: inout Actions) {
        if case .advanced(let offset) = tracker.complete(ticket) {
            actions.offsetsToStore.append((ticket.coordinates.partitionID, offset))
        }
    }

    // MARK: Held retry records

    /// The retry partitions whose release is due (their timers are removed), and how long until the next one.
    mutating func dueReleases(now: ContinuousClock.Instant) -> (due: [PartitionID], next: Duration?) {
        var due: [PartitionID] = []
        var next: Duration?
        for (partition, time) in releaseTimes {
            if time <= now {
                due.append(partition)
            } else {
                next = min(next ?? time - now, time - now)
            }
        }
        for partition in due { releaseTimes[partition] = nil }
        return (due.sorted(), next)
    }

    /// Starts releasing a partition's held records; false when a release is already running (it will take
    /// what is due) or nothing is held.
    mutating func beginRelease(_ partition: PartitionID) -> Bool {
        guard held[partition] != nil, !releasing.contains(partition) else { return false }
        releasing.insert(partition)
        return true
    }

    /// Takes the due records at the front of a releasing partition's held queue, registered in order, for the
    /// driver to map and submit before it calls again. When none is due, the release ends: the next one is
    /// scheduled for the front record, or, with nothing held, the partition is fetched again.
    /// - Returns: the mappings (empty when the release has ended), and whether the release goes on.
    mutating func takeDue(
        _ partition: PartitionID, now: ContinuousClock.Instant, date: Date
    ) -> (mappings: [Mapping], goesOn: Bool, actions: Actions) {
        var mappings: [Mapping] = []
        var queue = held[partition] ?? []
        var next: Duration?
        var taken = 0
        for message in queue {
            let envelope = try? RetryEnvelope.parse(message.headers)
            if let delay = remainingDelay(of: message, envelope, date: date) {
                next = delay
                break
            }
            taken += 1
            if let mapping = register(message, envelope: envelope, unusable: nil) { mappings.append(mapping) }
        }
        queue.removeFirst(taken)
        held[partition] = queue.isEmpty ? nil : queue
        guard taken == 0 else { return (mappings, true, Actions()) }
        releasing.remove(partition)
        if let next {
            releaseTimes[partition] = now + next
            return ([], false, Actions())
        }
        return ([], false, Actions(reconcilePauses: true))
    }
}
