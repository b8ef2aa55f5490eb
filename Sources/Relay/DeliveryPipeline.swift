import AffonsoAPI
import Foundation
import KafkaClient
import Logging
import Rules
import ServiceLifecycle
import Synchronization

// MARK: - DeliveryPipeline

/// The relay's heart: reads records, maps them with the rules, delivers each event to Affonso with bounded,
/// key-ordered concurrency, routes failures to retry tiers and the dead-letter topic, and stores a partition's
/// offset only up to its highest contiguous complete record.
///
/// A record is complete when each of its events was acknowledged (2xx) or durably written to a retry or
/// dead-letter topic, or when it was skipped. Records of retry tiers wait for their `not_before` time by pausing
/// only their partition.
///
/// This is the driver of ``DeliveryCore``, which takes every decision: the pipeline feeds it each input under one
/// lock and performs what it returns outside the lock. The tasks, all long-lived:
/// - the consumer task: each record is handed to the core, and mapped with the rules when the core says so;
/// - `max_in_flight` delivery workers: each takes a started job and carries out its steps (send, wait, write to a
///   retry tier or the dead-letter topic) until the core says it is finished;
/// - the release timer, for held retry records; the commit loop; the lag reporter; the shutdown watcher.
public final class DeliveryPipeline: Sendable {
    let configuration: DeliveryPipelineConfiguration
    let rules: RuleSet
    let client: AffonsoClient
    let producer: KafkaProducer
    let logger: Logger
    let metrics: RelayMetrics
    let state: Mutex<DeliveryCore>
    let consumer = Mutex<KafkaConsumer?>(nil)
    /// Held while pause decisions are applied to the consumer, so they reach it in the order they were made.
    let pauseApplication = Mutex(())
    /// One signal per started job: a parked worker wakes and takes it.
    let jobsStarted = WorkSignal()
    /// The dispatcher has room again: the consumer task, waiting while it was full, goes on.
    let intake = WorkSignal(maximumPermits: 1)
    /// Offsets were stored: the commit loop commits them (signals coalesce while a commit runs).
    let offsetsStored: AsyncStream<Void>
    let offsetsStoredContinuation: AsyncStream<Void>.Continuation

    /// The most records taken from the consumer at once.
    static let batchSize = 64

    /// The longest the release timer sleeps: how late a held retry record may be released after it is due.
    static let releaseTick = Duration.milliseconds(250)

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
        self.state = Mutex(DeliveryCore(configuration: configuration))
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
    /// - Parameters:
    ///   - consumer: a consumer created with ``rebalanceHandler`` and subscribed to the source and retry-tier
    ///     topics.
    ///   - conversions: a reader of the conversions topic from its start, with a group of its own that commits
    ///     nothing, when refunds are on (``DeliveryPipelineConfiguration/conversionsTopic``); closed at the end.
    /// - Throws: the consumer's fatal ``KafkaError``.
    public func run(consumer: KafkaConsumer, conversions: KafkaConsumer? = nil) async throws {
        self.consumer.withLock { $0 = consumer }
        let closed = WorkSignal()
        try await withThrowingDiscardingTaskGroup { group in
            // Workers run on the HTTP transport's event loops, spread evenly: a request and its answer stay on one
            // thread.
            let executors = client.executors
            for index in 0..<max(1, configuration.delivery.maximumInFlight) {
                if executors.isEmpty {
                    group.addTask { await self.work() }
                } else {
                    group.addTask(executorPreference: executors[index % executors.count]) { await self.work() }
                }
            }
            group.addTask {
                do {
                    while await self.waitForRoom(),
                        let batch = try await consumer.nextBatch(maximum: Self.batchSize)
                    {
                        self.handle(batch)
                    }
                } catch {
                    closed.signal()
                    throw error
                }
            }
            group.addTask {
                // Cancelled instead (the consumer failed): the caller closes it, and there is nothing to announce.
                let isShutdown = (try? await gracefulShutdown()) != nil
                self.perform(self.state.withLock { $0.shutdownBegan(deadline: .now + self.configuration.drainTimeout) })
                if isShutdown {
                    self.logger.info("shutting down: draining in-flight work, then committing and leaving the group")
                }
                // Revokes the assignment through `rebalance`, which waits for in-flight work up to the drain deadline.
                await self.closeWithinShutdownGrace(consumer)
                closed.signal()
            }
            if let conversions {
                group.addTask { await self.followConversions(conversions) }
            }
            group.addTask { await self.releaseHeldRecords() }
            group.addTask { await self.reportLag(consumer) }
            group.addTask { await self.commitStoredOffsets(consumer) }
            _ = await closed.wait()
            // The consumer is closed (or failed, or its close was abandoned at the shutdown deadline): whatever still
            // runs missed the drain deadline and is abandoned uncommitted; its records are read again by the
            // partitions' next owner. A commit still waiting for the broker stops being waited for (it goes on in the
            // background).
            group.cancelAll()
        }
        self.consumer.withLock { $0 = nil }
    }

    /// Closes a consumer (the source consumer or the conversions reader), waiting for it at most until the shutdown
    /// deadline once a shutdown began, else (the consumer failed fatally) for the shutdown grace from now.
    ///
    /// A broker that accepts connections but never answers (frozen, or behind a half-open network path) holds
    /// librdkafka's close for as long as its requests take to time out (the revoke's commit, the leave, a
    /// commit in flight: `socket.timeout.ms`, 60 s by default), far past `server.shutdown_grace`, and Kubernetes
    /// would kill the pod. So the shutdown stops waiting at the deadline and goes on without it: what the close
    /// would commit are stored offsets, i.e. of acknowledged records only, so abandoning it can only make the
    /// partitions' next owner read again what this member delivered since its last commit.
    ///
    /// The close ends half the reserve before the deadline, so that flushing the producer (``flushReserve``, what is
    /// left) still ends within the grace.
    func closeWithinShutdownGrace(_ consumer: KafkaConsumer) async {
        let deadline = shutdownDeadline.map { $0 - flushReserve } ?? .now + configuration.drainTimeout
        await consumer.close(timeout: deadline - .now)
    }

    /// What flushing the producer gets at least at shutdown, after the consumer's close: the last half of the
    /// reserve.
    var flushReserve: Duration { shutdownReserve / 2 }

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

    /// Waits while the dispatcher is full (the records already taken are enough work).
    /// - Returns: false when cancelled.
    private func waitForRoom() async -> Bool {
        while state.withLock({ $0.isFull }) {
            guard await intake.wait() else { return false }
        }
        return true
    }

    /// Hands a batch of consumed records to the core under one lock, maps those it registered (outside the lock),
    /// and submits their jobs under one more: two critical sections and one wake-up round per batch instead of per
    /// record.
    func handle(_ batch: [KafkaConsumerMessage]) {
        recordConsumed(batch)
        let (now, date) = (ContinuousClock.now, Date())
        let (mappings, actions) = state.withLock { core in
            var mappings: [DeliveryCore.Mapping] = []
            mappings.reserveCapacity(batch.count)
            var actions = DeliveryCore.Actions()
            for message in batch {
                let (mapping, more) = core.received(message, now: now, date: date)
                actions.absorb(more)
                if let mapping { mappings.append(mapping) }
            }
            return (mappings, actions)
        }
        perform(actions)
        process(mappings)
    }

    /// Counts consumed records per topic (a batch mostly holds runs of one topic).
    private func recordConsumed(_ batch: [KafkaConsumerMessage]) {
        var index = batch.startIndex
        while index < batch.endIndex {
            let topic = batch[index].topic
            var end = index + 1
            while end < batch.endIndex, batch[end].topic == topic { end += 1 }
            metrics.recordConsumed(topic: topic, count: end - index)
            index = end
        }
    }

    /// Maps registered records (outside the lock), in order, and submits their events under one lock.
    private func process(_ mappings: [DeliveryCore.Mapping]) {
        guard !mappings.isEmpty else { return }
        let mapped = mappings.map { ($0.ticket, jobs(for: $0)) }
        perform(
            state.withLock { core in
                var actions = DeliveryCore.Actions()
                for (ticket, jobs) in mapped { actions.absorb(core.mapped(ticket, jobs: jobs)) }
                return actions
            })
    }

    /// Releases held retry records when they are due, checking at least every ``releaseTick``.
    private func releaseHeldRecords() async {
        while !Task.isCancelled {
            let (due, next) = state.withLock { $0.dueReleases(now: .now) }
            for partition in due { release(partition) }
            do { try await Task.sleep(for: min(next ?? Self.releaseTick, Self.releaseTick)) } catch { return }
        }
    }

    /// Releases the due records a retry partition held, in offset order. Records of the partition that arrive
    /// meanwhile queue behind them (registering a newer record first would make the tracker refuse the older
    /// ones, and let the commit pass them).
    func release(_ partition: PartitionID) {
        guard state.withLock({ $0.beginRelease(partition) }) else { return }
        while true {
            let (mappings, goesOn, actions) = state.withLock { $0.takeDue(partition, now: .now, date: Date()) }
            process(mappings)
            perform(actions)
            guard goesOn else { return }
        }
    }

    // MARK: - Actions

    /// Carries out what the core decided: wake workers, store offsets, report, pause or resume fetching.
    func perform(_ actions: DeliveryCore.Actions) {
        jobsStarted.signal(actions.started)
        if actions.intakeOpened { intake.signal() }
        if let buffered = actions.buffered { metrics.setInFlight(buffered) }
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
        for notice in actions.notices { report(notice) }
        if actions.reconcilePauses {
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
