import CRdKafka
import Dispatch
import Logging
import Synchronization

/// A member of a Kafka consumer group with at-least-once offsets.
///
/// Offsets are never stored automatically: call ``storeOffset(topic:partition:offset:)`` with the offset of the
/// next record to read once a record is processed. Stored offsets are committed every
/// ``KafkaConsumerConfiguration/autoCommitInterval``, on ``commit()``, when partitions are revoked, and on
/// ``close()``.
///
/// librdkafka is polled on a dedicated thread. Messages reach the application through ``messages``, an
/// `AsyncSequence` with a bounded buffer. Every assigned partition's fetch queue is forwarded to a message queue
/// of our own, apart from the consumer queue that carries rebalance, commit and error events. When the buffer
/// holds ``KafkaConsumerConfiguration/bufferCapacity`` messages the poll thread stops taking messages (librdkafka
/// then stops fetching once its own prefetch limit, `queued.max.messages.kbytes`, is reached) but keeps serving
/// the consumer queue, so rebalances and errors are never delayed by a slow application. Nothing is paused or
/// re-fetched for backpressure.
///
/// Rebalances are reported to the `rebalanceHandler`: ``RebalanceEvent/revoked(_:)`` is called *before* the
/// partitions are unassigned, and the consumer waits for the handler (at most
/// ``KafkaConsumerConfiguration/revokeDeadline``), then commits the stored offsets and unassigns.
///
/// Call ``close()`` when done: it revokes the assignment (with the handler), commits and leaves the group.
public final class KafkaConsumer: Sendable {
    /// A change of this member's assignment.
    public enum RebalanceEvent: Sendable, Hashable {
        /// The partitions are now owned by this member; delivery from them starts.
        case assigned([KafkaTopicPartition])
        /// The partitions are being revoked. They are still owned while the handler runs: store their final
        /// offsets. When the handler returns (or the revoke deadline passes) the consumer commits and unassigns.
        case revoked([KafkaTopicPartition])
        /// The partitions were lost (session timeout, fenced): another member may own them already. Offsets can
        /// no longer be stored or committed for them; abandon their work.
        case lost([KafkaTopicPartition])
    }

    /// Called on every rebalance; see ``RebalanceEvent``. The poll thread waits for it (at most
    /// ``KafkaConsumerConfiguration/revokeDeadline``), so it must not wait for ``messages`` or call ``close()``;
    /// storing offsets, ``commit()`` and ``pause(topic:partition:)`` are fine. Empty steps of a cooperative
    /// rebalance are not reported.
    public typealias RebalanceHandler = @Sendable (RebalanceEvent) async -> Void

    /// Low and high watermark of a partition: the first offset still in the log and the next offset to be written.
    public struct Watermarks: Sendable, Hashable {
        /// The first offset still in the log.
        public var low: Int64
        /// The offset the next record will get (log end offset).
        public var high: Int64
    }

    let configuration: KafkaConsumerConfiguration
    let logger: Logger
    let rebalanceHandler: RebalanceHandler?
    let handle = RDKafkaHandle()
    let queues = Queues()
    /// The bound on the bytes of records taken from librdkafka and not yet freed by the application.
    public let budget: ByteBudget
    /// The consumer queue until the poll thread begins to close: waking the poll thread goes through it.
    let wakeQueue = Mutex<OpaquePointer?>(nil)
    let state = Mutex(State())
    let reachability = Mutex(Reachability())
    private let closed = Mutex<[CheckedContinuation<Void, Never>]?>([])

    /// Creates the consumer, subscribes and starts polling.
    /// - Parameters:
    ///   - configuration: brokers, group, topics and options.
    ///   - logger: where librdkafka's and the consumer's logs go.
    ///   - rebalanceHandler: told about assigned, revoked and lost partitions (see ``RebalanceEvent``).
    ///   - budget: the byte budget records are drawn from; by default one of
    ///     ``KafkaConsumerConfiguration/maximumBufferedBytes``.
    /// - Throws: ``KafkaError`` with code `.configuration` when a property is rejected or no topic is given.
    public init(
        configuration: KafkaConsumerConfiguration,
        logger: Logger,
        rebalanceHandler: RebalanceHandler? = nil,
        budget: ByteBudget? = nil
    ) throws(KafkaError) {
        self.configuration = configuration
        self.logger = logger
        self.rebalanceHandler = rebalanceHandler
        self.budget = budget ?? ByteBudget(limit: configuration.maximumBufferedBytes)
        LibrdkafkaVersion.check(logger: logger)
        guard !configuration.topics.isEmpty else {
            throw KafkaError(
                code: .configuration,
                message: "consumer group '\(configuration.groupID)' has no topics to subscribe to; set topics."
            )
        }
        guard configuration.bufferCapacity > 0 else {
            throw KafkaError(code: .configuration, message: "bufferCapacity must be at least 1")
        }
        let conf = try RDKafkaConfig.make(
            configuration.librdkafkaProperties,
            optional: KafkaConsumerConfiguration.optionalLibrdkafkaProperties,
            client: "Kafka consumer"
        )
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf) { rk, error, partitions, opaque in
            guard let rk, let partitions, let opaque else { return }
            Unmanaged<KafkaConsumer>.fromOpaque(opaque).takeUnretainedValue()
                .rebalance(rk, error, partitions)
        }
        rd_kafka_conf_set_error_cb(conf) { rk, error, reason, opaque in
            guard let rk, let opaque else { return }
            Unmanaged<KafkaConsumer>.fromOpaque(opaque).takeUnretainedValue()
                .clientError(rk, error, reason.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_offset_commit_cb(conf) { _, error, partitions, opaque in
            guard let opaque else { return }
            Unmanaged<KafkaConsumer>.fromOpaque(opaque).takeUnretainedValue()
                .committed(error, partitions)
        }
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, text in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let consumer = Unmanaged<KafkaConsumer>.fromOpaque(opaque).takeUnretainedValue()
            RDKafkaLog.forward(rk, level: level, facility: facility, text: text, logger: consumer.logger)
        }
        let pointer = try RDKafkaConfig.newHandle(type: RD_KAFKA_CONSUMER, conf: conf, client: "Kafka consumer")
        handle.set(pointer)
        rd_kafka_poll_set_consumer(pointer)
        queues.messages = rd_kafka_queue_new(pointer)
        queues.consumer = rd_kafka_queue_get_consumer(pointer)
        wakeQueue.withLock { $0 = queues.consumer }
        self.budget.onRoom { [weak self] in self?.wakePollThread() }

        let subscription = RDKafkaTopicPartitionList.make(
            configuration.topics.map { KafkaTopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) }
        )
        defer { rd_kafka_topic_partition_list_destroy(subscription) }
        let error = rd_kafka_subscribe(pointer, subscription)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            wakeQueue.withLock { $0 = nil }
            rd_kafka_queue_destroy(queues.messages)
            rd_kafka_queue_destroy(queues.consumer)
            rd_kafka_destroy(pointer)
            throw KafkaError.rdKafka(
                error, "could not subscribe group '\(configuration.groupID)' to \(configuration.topics)")
        }
        logger.info(
            "Kafka consumer subscribed",
            metadata: [
                "kafka.group": "\(configuration.groupID)", "kafka.topics": "\(configuration.topics)",
                "kafka.strategy": "\(configuration.partitionAssignmentStrategy)",
            ]
        )
        RDKafkaThread.start(name: "kafka-consumer-\(configuration.groupID)") { [self] in pollLoop() }
        startProbing()
    }

    /// The records of the assigned partitions, in offset order per partition. Iterate it from one task.
    /// It ends after ``close()``; it throws a ``KafkaError`` when librdkafka fails fatally.
    public var messages: Messages { Messages(consumer: self) }

    /// The partitions this member owns now (including ones being revoked until they are unassigned).
    public var assignment: Set<KafkaTopicPartition> { state.withLock { $0.assignment } }

    /// Whether the brokers can be reached: false until a broker answered a first metadata request, and again from
    /// librdkafka's report that all brokers are down (`ALL_BROKERS_DOWN`) until a broker answers again (probed
    /// every second meanwhile).
    public var brokersReachable: Bool { reachability.withLock { $0.isReachable } }

    /// The owned partitions the application paused and has not resumed (none survive an unassignment).
    public var pausedPartitions: Set<KafkaTopicPartition> { state.withLock { $0.userPaused } }

    // MARK: - Offsets

    /// Stores the offset to commit for a partition: the offset of the next record to read (processed offset + 1).
    /// It is committed by the next auto-commit, ``commit()``, revoke or ``close()``.
    /// - Throws: ``KafkaError`` `.notAssigned` when this member does not own the partition (never assigned,
    ///   revoked or lost); nothing is stored then.
    public func storeOffset(topic: String, partition: Int32, offset: Int64) throws(KafkaError) {
        let topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
        // One lock for both: whether the partition is owned, and whether the handle may be used.
        try withHandle(
            admitting: { state throws(KafkaError) in
                guard state.assignment.contains(topicPartition) else {
                    throw notAssigned(topicPartition, offset: offset)
                }
            }
        ) { rk throws(KafkaError) in
            let list = RDKafkaTopicPartitionList.make([topicPartition]) { _ in offset }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let error = rd_kafka_offsets_store(rk, list)
            let elementError = list.pointee.elems[0].err
            if error == RD_KAFKA_RESP_ERR__STATE || elementError == RD_KAFKA_RESP_ERR__STATE {
                throw notAssigned(topicPartition, offset: offset)
            }
            let failure = error != RD_KAFKA_RESP_ERR_NO_ERROR ? error : elementError
            if failure != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError.rdKafka(failure, "could not store offset \(offset) for \(topicPartition)")
            }
        }
    }

    /// Commits the stored offsets and waits for the broker's acknowledgement.
    /// - Throws: ``KafkaError`` when the commit failed (e.g. the group rebalanced); nothing stored is lost,
    ///   the next commit retries it. `.cancelled` when the task was cancelled: the commit goes on in the
    ///   background.
    public func commit() async throws(KafkaError) {
        try await RDKafkaBlocking.run { [self] () throws(KafkaError) in
            try withHandle { rk throws(KafkaError) in
                let error = rd_kafka_commit(rk, nil, 0)
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET else {
                    throw KafkaError.rdKafka(error, "could not commit offsets of group '\(configuration.groupID)'")
                }
            }
        }
    }

    /// Starts a commit of the stored offsets without waiting; a failure is logged.
    /// - Throws: ``KafkaError`` `.closed` after ``close()``.
    public func commitInBackground() throws(KafkaError) {
        try withHandle { rk throws(KafkaError) in
            let error = rd_kafka_commit(rk, nil, 1)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET else {
                throw KafkaError.rdKafka(error, "could not start a commit for group '\(configuration.groupID)'")
            }
        }
    }

    /// The group's committed offsets (next offset to read) of the given partitions; partitions without a
    /// committed offset are absent.
    /// - Parameters:
    ///   - partitions: which partitions.
    ///   - timeout: how long to wait for the group coordinator.
    public func committedOffsets(
        for partitions: [KafkaTopicPartition],
        timeout: Duration = .seconds(10)
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        try await RDKafkaBlocking.run { [self] () throws(KafkaError) in
            try withHandle { rk throws(KafkaError) in
                let list = RDKafkaTopicPartitionList.make(partitions)
                defer { rd_kafka_topic_partition_list_destroy(list) }
                let error = rd_kafka_committed(rk, list, RDKafkaConfig.timeoutMilliseconds(timeout))
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError.rdKafka(
                        error, "could not read committed offsets of group '\(configuration.groupID)'")
                }
                var result: [KafkaTopicPartition: Int64] = [:]
                for element in RDKafkaTopicPartitionList.elements(list) where element.offset >= 0 {
                    result[element.partition] = element.offset
                }
                return result
            }
        }
    }

    /// Asks the partition leader for the low and high watermarks (for lag: high − committed).
    /// - Parameters:
    ///   - topic: the topic.
    ///   - partition: the partition.
    ///   - timeout: how long to wait for the broker.
    public func watermarks(
        topic: String,
        partition: Int32,
        timeout: Duration = .seconds(10)
    ) async throws(KafkaError) -> Watermarks {
        try await RDKafkaBlocking.run { [self] () throws(KafkaError) in
            try withHandle { rk throws(KafkaError) in
                var low: Int64 = 0
                var high: Int64 = 0
                let error = rd_kafka_query_watermark_offsets(
                    rk, topic, partition, &low, &high, RDKafkaConfig.timeoutMilliseconds(timeout)
                )
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError.rdKafka(error, "could not read watermarks of \(topic)[\(partition)]")
                }
                return Watermarks(low: low, high: high)
            }
        }
    }

    /// Moves the read position of an owned partition; buffered records of it are dropped.
    /// - Parameters:
    ///   - topic: the topic.
    ///   - partition: the partition.
    ///   - offset: the offset of the next record to deliver.
    /// - Throws: ``KafkaError`` `.notAssigned` when this member does not own the partition.
    public func seek(topic: String, partition: Int32, offset: Int64) async throws(KafkaError) {
        let topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
        let owned = state.withLock { state in
            guard state.assignment.contains(topicPartition) else { return false }
            state.invalidate([topicPartition])
            return true
        }
        guard owned else { throw notAssigned(topicPartition, offset: offset, action: "seek to") }
        try await RDKafkaBlocking.run { [self] () throws(KafkaError) in
            try withHandle { rk throws(KafkaError) in
                let list = RDKafkaTopicPartitionList.make([topicPartition]) { _ in offset }
                defer { rd_kafka_topic_partition_list_destroy(list) }
                if let error = rd_kafka_seek_partitions(rk, list, 10_000) {
                    throw KafkaError.rdKafka(consuming: error, "could not seek \(topicPartition) to \(offset)")
                }
                if let failure = RDKafkaTopicPartitionList.elements(list).first?.error,
                    failure != RD_KAFKA_RESP_ERR_NO_ERROR
                {
                    throw KafkaError.rdKafka(failure, "could not seek \(topicPartition) to \(offset)")
                }
            }
        }
    }

    // MARK: - Pause and resume

    /// Stops delivering records of an owned partition until ``resume(topic:partition:)`` or until it is
    /// unassigned. Records already buffered stay held back, in order.
    ///
    /// The consumer keeps no pause of its own across assignments: a partition it does not own is not paused
    /// (the call does nothing), and every partition starts unpaused when it is assigned, so whoever decides what
    /// is fetched decides afresh after each assignment (``pausedPartitions`` tells what is paused now).
    ///
    /// O(1): the partition's buffered records are set aside only when the iterator reaches them.
    public func pause(topic: String, partition: Int32) {
        let topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
        state.withLock { state in
            guard state.assignment.contains(topicPartition), !state.revoking.contains(topicPartition) else { return }
            guard state.userPaused.insert(topicPartition).inserted else { return }
            setPaused([topicPartition], true)
        }
    }

    /// Resumes delivery of a partition paused with ``pause(topic:partition:)``.
    public func resume(topic: String, partition: Int32) {
        let topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
        let handoff = state.withLock {
            state -> (CheckedContinuation<KafkaConsumerMessage?, any Error>, KafkaConsumerMessage)? in
            guard state.unpause(topicPartition) else { return nil }
            if state.assignment.contains(topicPartition), !state.revoking.contains(topicPartition) {
                setPaused([topicPartition], false)
            }
            guard state.waiter != nil, let message = state.popDeliverable() else { return nil }
            defer { state.waiter = nil }
            return (state.waiter!, message)
        }
        if let (waiter, message) = handoff { waiter.resume(returning: message) }
    }

    // MARK: - Close

    /// Stops delivery, revokes the assignment (calling the rebalance handler), commits the stored offsets,
    /// leaves the group so other members get the partitions at once, and frees librdkafka. Idempotent.
    public func close() async {
        let waiter = state.withLock { state -> CheckedContinuation<KafkaConsumerMessage?, any Error>? in
            if case .running = state.lifecycle { state.lifecycle = .closing }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
        await withCheckedContinuation { continuation in
            let isDone = closed.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if isDone { continuation.resume() }
        }
    }

    /// ``close()``, waiting for it at most `timeout`.
    ///
    /// librdkafka's close commits the stored offsets and leaves the group, and waits for the broker's answers: to a
    /// broker that accepts connections but never answers (its process frozen, a half-open network path) it waits
    /// until its requests time out (`socket.timeout.ms`, 60 s by default), however long the caller may wait. This
    /// returns at `timeout` instead, logging a warning; the close goes on in the background (on the poll thread)
    /// and frees librdkafka when it ends, or the process exits first. The group then sees this member leave when
    /// its session times out, and the partitions' next owner reads from the last commit that went through: only
    /// stored offsets are ever committed, so records are read again, never skipped.
    /// - Parameter timeout: how long to wait for the close (zero or less: not at all).
    /// - Returns: whether the consumer closed within `timeout`.
    @discardableResult
    public func close(timeout: Duration) async -> Bool {
        let call = PendingCall<Void>()
        Task { [self] in
            await close()
            call.finish(.success(()))
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            call.finish(.failure(KafkaError(code: .timeout, message: "close timed out")))
        }
        let result = await withCheckedContinuation { continuation in _ = call.wait(continuation) }
        timer.cancel()
        guard case .failure = result else { return true }
        logger.warning(
            "Kafka consumer did not close within \(timeout) (a broker does not answer, or a commit still waits for one); the close goes on in the background, and offsets it cannot commit are read again by the partitions' next owner",
            metadata: ["kafka.group": "\(configuration.groupID)"]
        )
        return false
    }

    /// Called by the poll thread once librdkafka is destroyed.
    func finishClose() {
        let waiters = closed.withLock { waiters in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: - Helpers

    /// Wakes the poll thread from its wait on the consumer queue; does nothing once it began to close.
    func wakePollThread() {
        wakeQueue.withLock { queue in
            if let queue { rd_kafka_queue_yield(queue) }
        }
    }

    /// librdkafka queues owned by the consumer; set once in `init`, destroyed by the poll thread.
    final class Queues: @unchecked Sendable {
        /// Where every assigned partition's messages are forwarded.
        var messages: OpaquePointer!
        /// The consumer queue (rebalance, commit and error events); yielded to wake the poll thread.
        var consumer: OpaquePointer!
    }

    /// Whether the brokers answer (``brokersReachable``), and whether a probe thread is checking.
    struct Reachability {
        var isReachable = false
        var isProbing = false
        /// Whether a broker ever answered.
        var hasAnswered = false
        /// Whether "all brokers down" was logged since a broker last answered.
        var hasReportedDown = false
    }

    /// Runs `body` with the librdkafka handle unless it was destroyed; `close()` waits for running calls.
    /// `admit` runs first under the same lock and may refuse the call by throwing.
    func withHandle<T>(
        admitting admit: (inout State) throws(KafkaError) -> Void = { _ in },
        _ body: (OpaquePointer) throws(KafkaError) -> T
    ) throws(KafkaError) -> T {
        let isOpen = try state.withLock { state throws(KafkaError) -> Bool in
            try admit(&state)
            guard !state.isDestroyed else { return false }
            state.activeCalls += 1
            return true
        }
        guard isOpen else {
            throw KafkaError(
                code: .closed,
                message: "the consumer of group '\(configuration.groupID)' is closed; create a new one."
            )
        }
        defer { state.withLock { $0.activeCalls -= 1 } }
        return try body(handle.pointer)
    }

    /// Pauses or resumes partitions in librdkafka (non-blocking; called with the state lock held).
    func setPaused(_ partitions: [KafkaTopicPartition], _ pause: Bool) {
        guard !partitions.isEmpty else { return }
        let list = RDKafkaTopicPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error =
            pause ? rd_kafka_pause_partitions(handle.pointer, list) : rd_kafka_resume_partitions(handle.pointer, list)
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning(
                "could not \(pause ? "pause" : "resume") partitions",
                metadata: ["kafka.partitions": "\(partitions)", "error": "\(KafkaError.rdKafka(error, "pause"))"]
            )
        }
    }

    private func notAssigned(
        _ partition: KafkaTopicPartition,
        offset: Int64,
        action: String = "store offset"
    ) -> KafkaError {
        KafkaError(
            code: .notAssigned,
            message:
                "cannot \(action) \(offset) for \(partition): this member of group '\(configuration.groupID)' does not own the partition (never assigned, revoked or lost). Its records go to the new owner; drop this work instead of committing it."
        )
    }
}
