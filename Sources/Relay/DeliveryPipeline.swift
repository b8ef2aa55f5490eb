import AffonsoAPI
import CEL
import Foundation
import KafkaClient
import Logging
import Rules
import ServiceLifecycle
import Synchronization

// MARK: - DeliveryPipeline

/// The relay's heart (SPEC.md §6): reads records, maps them with the rules, delivers each event to Affonso with
/// bounded, key-ordered concurrency, routes failures to retry tiers and the dead-letter topic, and stores a
/// partition's offset only up to its highest contiguous complete record.
///
/// A record is complete when each of its events was acknowledged (2xx) or durably written to a retry or
/// dead-letter topic, or when it was skipped. Records of retry tiers wait for their `not_before` time by pausing
/// only their partition.
///
/// The state machines (``OffsetTracker``, ``KeyedDispatcher``, ``OutageDetector``, ``CredentialsGate``) sit in one
/// `Mutex`; every call into Kafka or HTTP happens outside it.
public final class DeliveryPipeline: Sendable {
    let configuration: DeliveryPipelineConfiguration
    let rules: RuleSet
    let client: AffonsoClient
    let producer: KafkaProducer
    let logger: Logger
    let metrics: RelayMetrics
    let policy: RetryPolicy
    let retryTopics: Set<String>
    /// Each retry tier's delay, by topic: the longest a record read from it waits.
    let tierDelays: [String: Duration]
    let state: Mutex<State>
    let consumer = Mutex<KafkaConsumer?>(nil)
    /// Held while pause decisions are applied to the consumer, so they reach it in the order they were made.
    let pauseApplication = Mutex(())
    let work: AsyncStream<Work>
    let workContinuation: AsyncStream<Work>.Continuation
    /// Offsets were stored: the commit loop commits them (signals coalesce while a commit runs).
    let offsetsStored: AsyncStream<Void>
    let offsetsStoredContinuation: AsyncStream<Void>.Continuation

    /// Something for the pipeline's task group to run.
    enum Work: Sendable {
        case deliver(KeyedDispatcher<EventJob>.Job)
        /// Release a retry partition's held records after the delay.
        case release(PartitionID, after: Duration)
    }

    /// - Parameters:
    ///   - configuration: concurrency, ordering and retry settings.
    ///   - rules: the compiled topic rules.
    ///   - client: the Affonso client (its rate limiter paces every request).
    ///   - producer: writes retry-tier and dead-letter records.
    ///   - metrics: where counters go.
    ///   - logger: JSON log lines; never the API key.
    public init(
        configuration: DeliveryPipelineConfiguration,
        rules: RuleSet,
        client: AffonsoClient,
        producer: KafkaProducer,
        metrics: RelayMetrics = RelayMetrics(),
        logger: Logger
    ) {
        self.configuration = configuration
        self.rules = rules
        self.client = client
        self.producer = producer
        self.metrics = metrics
        self.logger = logger
        self.policy = RetryPolicy(configuration: configuration.retry)
        self.retryTopics = Set(configuration.retryTopics)
        self.tierDelays = Dictionary(
            configuration.retry.tiers.map { ($0.topic, $0.delay) }, uniquingKeysWith: { first, _ in first })
        self.state = Mutex(State(configuration: configuration))
        (self.work, self.workContinuation) = AsyncStream.makeStream()
        (self.offsetsStored, self.offsetsStoredContinuation) = AsyncStream.makeStream(
            bufferingPolicy: .bufferingNewest(1))
    }

    /// The rebalance handler to give the ``KafkaConsumer``: it drains revoked partitions before they are unassigned.
    public var rebalanceHandler: KafkaConsumer.RebalanceHandler {
        { [weak self] event in await self?.rebalance(event) }
    }

    /// Whether the relay should receive traffic: the key works, the API is not down, and no drain started.
    public var isReady: Bool { state.withLock { $0.isReady } }

    /// When the whole shutdown (drain, commit, flush, close) must be over: `server.shutdown_grace` after SIGTERM;
    /// nil until a graceful shutdown started.
    public var shutdownDeadline: ContinuousClock.Instant? { state.withLock { $0.shutdownDeadline } }

    /// Of the shutdown grace, what is kept for committing, flushing and closing after the drain.
    var shutdownReserve: Duration { min(.seconds(5), configuration.drainTimeout / 5) }

    /// Whether the process should go on: false once the producer failed fatally (a restart recreates it).
    public var isLive: Bool { state.withLock { !$0.producerFailed } }

    // MARK: - Run

    /// Consumes until graceful shutdown (then closes the consumer, which drains, commits and leaves the group) or a
    /// fatal consumer error.
    ///
    /// - Parameter consumer: a consumer created with ``rebalanceHandler`` and subscribed to the source and
    ///   retry-tier topics.
    /// - Throws: the consumer's fatal ``KafkaError``.
    public func run(consumer: KafkaConsumer) async throws {
        self.consumer.withLock { $0 = consumer }
        // A discarding group frees each delivery task as soon as it ends; a plain task group would keep every
        // finished child (and its task allocator's memory, kilobytes per event) until the group ends.
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                do {
                    for try await message in consumer.messages {
                        self.handle(message)
                    }
                } catch {
                    self.workContinuation.finish()
                    throw error
                }
            }
            group.addTask {
                try? await gracefulShutdown()
                let deadline = ContinuousClock.now + self.configuration.drainTimeout
                self.state.withLock {
                    $0.isDraining = true
                    $0.shutdownDeadline = deadline
                }
                self.applyPauses()
                self.logger.info("shutting down: draining in-flight work, then committing and leaving the group")
                // Revokes the assignment through `rebalance`, which waits for in-flight work up to the drain deadline.
                await consumer.close()
                self.workContinuation.finish()
            }
            group.addTask { await self.reportLag(consumer) }
            group.addTask { await self.commitStoredOffsets(consumer) }
            for await work in self.work {
                switch work {
                case .deliver(let job):
                    group.addTask { await self.deliver(job) }
                case .release(let partition, let delay):
                    group.addTask {
                        try? await Task.sleep(for: delay)
                        self.releaseHeld(partition)
                    }
                }
            }
            // The consumer is closed (or failed): whatever still runs missed the drain deadline and is abandoned
            // uncommitted; its records are read again by the partitions' next owner.
            group.cancelAll()
        }
        self.consumer.withLock { $0 = nil }
    }

    /// Commits stored offsets whenever they advance, one commit at a time, at most every `commitInterval`, so that
    /// a crash re-delivers little more than what was in flight. (The consumer also commits every second, on revoke
    /// and on close.)
    private func commitStoredOffsets(_ consumer: KafkaConsumer) async {
        for await _ in offsetsStored {
            do {
                try await consumer.commit()
            } catch {
                // A rebalance or close is under way; the revoke and close commits, or the next one, cover it.
                logger.debug("offset commit skipped", metadata: ["error": "\(error)"])
            }
            if configuration.commitInterval > .zero {
                try? await Task.sleep(for: configuration.commitInterval)
            }
        }
    }

    /// Every 10 s: `consumer_lag` = log end offset − committable offset, per assigned partition, and the bytes of
    /// records held (`buffered_bytes`).
    private func reportLag(_ consumer: KafkaConsumer) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(10)) } catch { return }
            metrics.setBufferedBytes(consumer.budget.reservedBytes)
            let positions = state.withLock { state in
                state.tracker.assignedPartitions.compactMap { partition in
                    state.tracker.committableOffset(for: partition).map { (partition, $0) }
                }
            }
            for (partition, committable) in positions {
                guard
                    let end = try? await consumer.watermarks(
                        topic: partition.topic, partition: partition.partition, timeout: .seconds(2)
                    ).high
                else { continue }
                metrics.recordLag(partition: partition, lag: max(0, end - committable))
            }
        }
    }

    // MARK: - Records

    /// Takes one consumed record: holds it when it is a retry record that is not due (or when records of its
    /// partition are held or being released before it), else maps and dispatches it.
    func handle(_ message: KafkaConsumerMessage) {
        metrics.recordConsumed(topic: message.topic)
        guard retryTopics.contains(message.topic) else {
            process(message, envelope: nil)
            return
        }
        let envelope: RetryEnvelope?
        do {
            envelope = try RetryEnvelope.parse(message.headers)
        } catch {
            process(message, envelope: nil, unusable: error.message)
            return
        }
        let delay = remainingDelay(of: message, envelope)
        switch state.withLock({ $0.receive(message, notDueFor: delay) }) {
        case .process(let ticket):
            if let ticket { process(message, envelope: envelope, ticket: ticket) }
        case .held(let startTimer):
            guard startTimer, let delay else { return }
            logger.debug(
                "retry record not due yet; pausing its partition",
                metadata: ["topic": "\(message.topic)", "partition": "\(message.partition)", "delay": "\(delay)"]
            )
            applyPauses()
            workContinuation.yield(.release(message.topicPartition, after: delay))
        }
    }

    /// How long a retry record must still wait: its `not_before`, at most its tier's delay after it was written.
    private func remainingDelay(of message: KafkaConsumerMessage, _ envelope: RetryEnvelope?) -> Duration? {
        envelope?.remainingDelay(
            now: Date(), recordTimestamp: message.timestampMilliseconds.map(WallClock.date(milliseconds:)),
            tierDelay: tierDelays[message.topic])
    }

    /// Releases the due records a retry partition held, in offset order, then schedules the next wake-up or
    /// resumes the partition. Records of the partition that arrive meanwhile queue behind them (registering a
    /// newer record first would make the tracker refuse the older ones, and let the commit pass them).
    func releaseHeld(_ partition: PartitionID) {
        guard state.withLock({ $0.beginRelease(partition) }) else { return }
        while true {
            let (due, tookAny, next) = state.withLock { state in
                state.takeDue(partition) { message in
                    self.remainingDelay(of: message, try? RetryEnvelope.parse(message.headers))
                }
            }
            for (message, ticket) in due {
                process(message, envelope: try? RetryEnvelope.parse(message.headers), ticket: ticket)
            }
            guard !tookAny else { continue }
            if let next {
                workContinuation.yield(.release(partition, after: next))
            } else {
                applyPauses()
            }
            return
        }
    }

    /// Maps a record and submits its events (or its dead letter) for delivery; completes it at once when there is
    /// nothing to send.
    func process(_ message: KafkaConsumerMessage, envelope: RetryEnvelope?, unusable: String? = nil) {
        let coordinates = RecordCoordinates(topic: message.topic, partition: message.partition, offset: message.offset)
        guard let ticket = state.withLock({ $0.register(coordinates) }) else { return }
        process(message, envelope: envelope, unusable: unusable, ticket: ticket)
    }

    /// Maps a registered record and submits its events.
    private func process(
        _ message: KafkaConsumerMessage, envelope: RetryEnvelope?, unusable: String? = nil,
        ticket: OffsetTracker.Ticket
    ) {
        let jobs = jobs(for: message, envelope: envelope, unusable: unusable, ticket: ticket)
        perform(state.withLock { $0.submit(jobs, for: ticket, key: message.key) })
    }

    /// The events (or dead letters) one record becomes.
    private func jobs(
        for message: KafkaConsumerMessage,
        envelope: RetryEnvelope?,
        unusable: String?,
        ticket: OffsetTracker.Ticket
    ) -> [EventJob] {
        let source = RecordCoordinates(topic: message.topic, partition: message.partition, offset: message.offset)
        func deadLetter(_ rule: String, _ errorClass: ErrorClass, _ text: String) -> [EventJob] {
            [
                EventJob(
                    ticket: ticket, source: source, message: message, envelope: envelope, rule: rule,
                    work: .deadLetter(errorClass, text))
            ]
        }
        if let unusable {
            return deadLetter("", .decode, "retry record with unreadable relay headers: \(unusable)")
        }
        let original = envelope?.original ?? source
        let record = SourceRecord(
            topic: original.topic,
            partition: original.partition,
            offset: original.offset,
            key: message.key,
            value: message.value,
            headers: message.headers.compactMap { header in
                guard !header.key.hasPrefix(RetryEnvelope.HeaderName.prefix), let value = header.value else {
                    return nil
                }
                return SourceRecord.Header(name: header.key, value: value)
            },
            timestamp: (envelope?.originalTimestamp).map(CELTimestamp.init(date:))
                ?? message.timestampMilliseconds.map(CELTimestamp.init(milliseconds:))
        )
        // A replayed dead letter without a rule (decode, unmatched) is mapped by every rule again.
        let onlyRule = envelope.flatMap { $0.rule.isEmpty ? nil : $0.rule }
        if let onlyRule, !rules.ruleNames.contains(onlyRule) {
            return deadLetter(
                onlyRule, .ruleRemoved,
                "rule '\(onlyRule)' no longer exists; restore it and replay the dead letter, or drop it"
            )
        }
        if let onlyRule, !rules.rule(onlyRule, readsTopic: original.topic) {
            return deadLetter(
                onlyRule, .ruleRemoved,
                "rule '\(onlyRule)' no longer reads topic '\(original.topic)'; add the topic back to its topics and "
                    + "replay the dead letter, or drop it"
            )
        }
        switch rules.apply(record, onlyRule: onlyRule) {
        case .skipped, .results([]):
            metrics.recordSkipped(topic: message.topic)
            guard configuration.delivery.unmatched == .deadLetter, envelope == nil else { return [] }
            return deadLetter(
                "", .mapping,
                "no rule matches topic '\(original.topic)' (delivery.unmatched: dead_letter)"
            )
        case .failed(let error):
            return deadLetter(error.rule ?? "", ErrorClass(rules: error), error.message)
        case .results(let results):
            return results.map { result in
                switch result.result {
                case .success(let event):
                    EventJob(
                        ticket: ticket, source: source, message: message, envelope: envelope,
                        rule: result.rule, work: .deliver(event))
                case .failure(let error):
                    EventJob(
                        ticket: ticket, source: source, message: message, envelope: envelope,
                        rule: result.rule, work: .deadLetter(ErrorClass(rules: error), error.message))
                }
            }
        }
    }

    // MARK: - Actions

    /// Carries out what the state machines decided: start jobs, store offsets, pause or resume fetching.
    func perform(_ actions: State.Actions) {
        for job in actions.start {
            workContinuation.yield(.deliver(job))
        }
        metrics.setInFlight(state.withLock { $0.dispatcher.bufferedCount })
        if !actions.offsetsToStore.isEmpty, let consumer = consumer.withLock({ $0 }) {
            for (partition, offset) in actions.offsetsToStore {
                do {
                    try consumer.storeOffset(topic: partition.topic, partition: partition.partition, offset: offset)
                    metrics.recordCommittable(partition: partition, offset: offset)
                    offsetsStoredContinuation.yield()
                } catch {
                    // The partition was revoked or lost meanwhile: its new owner re-reads from the last commit.
                    logger.debug("offset not stored", metadata: ["partition": "\(partition)", "error": "\(error)"])
                }
            }
        }
        if actions.pausesChanged {
            applyPauses()
        }
    }

    /// Pauses and resumes partitions so that the consumer fetches exactly from those that should be fetched.
    ///
    /// Deciding and applying happen under ``pauseApplication``: otherwise a pause decided before a resume could
    /// reach the consumer after it, leaving partitions paused with nothing buffered to resume them (a stall).
    func applyPauses() {
        guard let consumer = consumer.withLock({ $0 }) else { return }
        pauseApplication.withLock { _ in
            let actual = consumer.pausedPartitions
            let (pause, resume, pausedCount) = state.withLock { $0.pauseChanges(actual: actual) }
            for partition in pause {
                consumer.pause(topic: partition.topic, partition: partition.partition)
            }
            for partition in resume {
                consumer.resume(topic: partition.topic, partition: partition.partition)
            }
            metrics.setPausedPartitions(pausedCount)
        }
    }
}

// MARK: - EventJob

/// One event of one record, on its way to Affonso (or straight to the dead-letter topic).
struct EventJob: Sendable {
    enum Work: Sendable {
        case deliver(MappedEvent)
        case deadLetter(ErrorClass, String)
    }

    let ticket: OffsetTracker.Ticket
    /// Where the record was read (a retry tier's own coordinates for a retried record).
    let source: RecordCoordinates
    let message: KafkaConsumerMessage
    /// The relay headers the record carried, when it came from a retry tier.
    let envelope: RetryEnvelope?
    let rule: String
    let work: Work
}

// MARK: - Conversions

extension ErrorClass {
    /// The class of a rules failure: `mapping`, `validation`, `decode` or `record_too_large`.
    init(rules error: RulesError) {
        self = ErrorClass(rawValue: error.errorClass) ?? .mapping
    }
}

extension CELTimestamp {
    /// A Kafka timestamp (milliseconds since the epoch, clamped to years 1–9999); before 1970 the nanoseconds stay
    /// positive.
    init(milliseconds: Int64) {
        let milliseconds = min(
            max(milliseconds, WallClock.millisecondRange.lowerBound), WallClock.millisecondRange.upperBound)
        var (seconds, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        if remainder < 0 {
            seconds -= 1
            remainder += 1000
        }
        self.init(seconds: seconds, nanos: Int32(remainder * 1_000_000))
    }

    init(date: Date) {
        self.init(milliseconds: WallClock.milliseconds(date))
    }
}
