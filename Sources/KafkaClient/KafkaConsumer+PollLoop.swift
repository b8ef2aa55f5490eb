import CRdKafka
import Foundation

extension KafkaConsumer {
    /// The most messages the poll thread takes from librdkafka at once.
    private static let batchLimit = 1024

    /// Runs on the dedicated poll thread until `close()`, then closes and destroys librdkafka.
    ///
    /// Each turn takes up to `batchLimit` messages from the message queue (only as many as the buffer has room
    /// for, and as the byte budget is likely to hold), then serves the consumer queue without blocking
    /// (rebalance callbacks run here). Each message reserves its bytes in ``budget`` before it is handed out; one
    /// that does not fit waits in `pending`, and the thread takes nothing more until it does. When the buffer is
    /// full or the budget spent it only serves the consumer queue until the application has drained half of the
    /// buffer or freed enough bytes (the iterator, or the budget's release, then wakes it with
    /// `rd_kafka_queue_yield`).
    func pollLoop() {
        let rk = handle.pointer!
        let messageQueue = queues.messages!
        let batchLimit = Self.batchLimit
        let raw = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: batchLimit)
        defer { raw.deallocate() }
        var intake = Intake(budget: budget, batchLimit: batchLimit)
        var room = configuration.bufferCapacity
        while true {
            intake.admitPending()
            if room > 0, intake.pending.isEmpty {
                // A batch call waits for a full batch or its timeout: take what is there, else wait for one.
                let limit = min(room, intake.suggestedCount())
                var count = rd_kafka_consume_batch_queue(messageQueue, 0, raw, limit)
                if count == 0 { count = rd_kafka_consume_batch_queue(messageQueue, 50, raw, 1) }
                for index in 0..<max(count, 0) {
                    guard let message = raw[index] else { continue }
                    take(message, rk, into: &intake)
                    rd_kafka_message_destroy(message)
                }
                // Serve rebalances and errors; a message here comes from a partition not forwarded yet.
                while intake.batch.count < batchLimit, intake.pending.isEmpty,
                    let message = rd_kafka_consumer_poll(rk, 0)
                {
                    take(message, rk, into: &intake)
                    rd_kafka_message_destroy(message)
                }
            } else if let message = rd_kafka_consumer_poll(rk, 100) {
                take(message, rk, into: &intake)
                rd_kafka_message_destroy(message)
            }
            guard let next = deliver(&intake.batch, epochs: &intake.batchEpochs) else { break }
            if next.0 != intake.epoch { intake.topicNames = TopicNames() }  // revoked: topic handles may go
            (intake.epoch, room) = next
        }
        shutDown(rk)
    }

    private func take(
        _ message: UnsafeMutablePointer<rd_kafka_message_t>, _ rk: OpaquePointer, into intake: inout Intake
    ) {
        if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            intake.add(KafkaConsumerMessage(message, topic: intake.topicNames.name(of: message.pointee.rkt)))
        } else {
            messageError(rk, message)
        }
    }

    /// What the poll thread took from librdkafka and has not handed to the buffer yet.
    struct Intake {
        let budget: ByteBudget
        let batchLimit: Int
        /// Messages with their share of the budget, for the next hand-over.
        var batch: [KafkaConsumerMessage?] = []
        /// The epoch at which each message of `batch` was taken (a partition invalidated since is stale).
        var batchEpochs: [Int] = []
        /// Messages taken that do not fit in the budget yet, oldest first, with their epochs.
        var pending: [(message: KafkaConsumerMessage, epoch: Int)] = []
        /// The epoch the poll thread last saw.
        var epoch = 0
        var topicNames = TopicNames()
        /// The largest record taken so far: how many records to take at once so the budget likely holds them.
        var largestRecord = 0

        init(budget: ByteBudget, batchLimit: Int) {
            self.budget = budget
            self.batchLimit = batchLimit
            batch.reserveCapacity(batchLimit)
            batchEpochs.reserveCapacity(batchLimit)
        }

        /// How many messages to take from librdkafka now: what the budget left holds at the largest size seen.
        func suggestedCount() -> Int {
            guard largestRecord > 0 else { return batchLimit }
            return max(1, min(batchLimit, budget.availableBytes / largestRecord))
        }

        /// Takes a message: into the batch with its reservation, or behind the pending ones.
        mutating func add(_ message: KafkaConsumerMessage) {
            var message = message
            let bytes = message.heldBytes
            largestRecord = max(largestRecord, bytes)
            if pending.isEmpty, let reservation = budget.tryReserve(bytes) {
                message.reservation = reservation
                batch.append(message)
                batchEpochs.append(epoch)
            } else {
                pending.append((message, epoch))
            }
        }

        /// Moves pending messages into the batch, in order, while the budget holds them.
        mutating func admitPending() {
            var admitted = 0
            for (message, epoch) in pending {
                guard let reservation = budget.tryReserve(message.heldBytes) else { break }
                var message = message
                message.reservation = reservation
                batch.append(message)
                batchEpochs.append(epoch)
                admitted += 1
            }
            if admitted > 0 { pending.removeFirst(admitted) }
        }
    }

    /// Hands a batch to the buffer (or a waiting iterator); returns the current epoch and the room left in the
    /// buffer, or nil to stop polling.
    private func deliver(_ batch: inout [KafkaConsumerMessage?], epochs: inout [Int]) -> (Int, Int)? {
        defer {
            batch.removeAll(keepingCapacity: true)
            epochs.removeAll(keepingCapacity: true)
        }
        let capacity = configuration.bufferCapacity
        let result = state.withLock {
            state -> ((Int, Int)?, CheckedContinuation<KafkaConsumerMessage?, any Error>?, KafkaConsumerMessage?) in
            guard case .running = state.lifecycle else { return (nil, nil, nil) }
            guard !batch.isEmpty else { return ((state.epoch, state.room(capacity: capacity)), nil, nil) }
            if let oldest = epochs.first, state.epoch != oldest {
                // Messages of partitions revoked or sought since they were taken are stale.
                var fresh: [KafkaConsumerMessage?] = []
                fresh.reserveCapacity(batch.count)
                for (message, epoch) in zip(batch, epochs)
                where state.staleSince[message!.topicPartition, default: 0] <= epoch {
                    fresh.append(message)
                }
                batch = fresh
            }
            state.buffer.append(moving: &batch)
            var waiter: CheckedContinuation<KafkaConsumerMessage?, any Error>?
            var first: KafkaConsumerMessage?
            if state.waiter != nil, let message = state.popDeliverable() {
                waiter = state.waiter
                first = message
                state.waiter = nil
            }
            return ((state.epoch, state.room(capacity: capacity)), waiter, first)
        }
        if let waiter = result.1 { waiter.resume(returning: result.2) }
        return result.0
    }

    private func messageError(_ rk: OpaquePointer, _ raw: UnsafeMutablePointer<rd_kafka_message_t>) {
        let error = raw.pointee.err
        if error == RD_KAFKA_RESP_ERR__PARTITION_EOF { return }
        var context = "consumer of group '\(configuration.groupID)'"
        if let topic = raw.pointee.rkt {
            context += " on \(String(cString: rd_kafka_topic_name(topic)))[\(raw.pointee.partition)]"
        }
        if error == RD_KAFKA_RESP_ERR__FATAL {
            fail(fatalError(rk, context))
            return
        }
        let detail = raw.pointee.payload.map {
            String(decoding: UnsafeRawBufferPointer(start: $0, count: raw.pointee.len), as: UTF8.self)
        }
        logger.warning(
            "Kafka consumer error",
            metadata: ["error": "\(KafkaError.rdKafka(error, context))", "detail": "\(detail ?? "")"]
        )
    }

    /// librdkafka's error callback (poll thread): fatal errors end the message stream.
    func clientError(_ rk: OpaquePointer, _ error: Int32, _ reason: String) {
        let code = rd_kafka_resp_err_t(rawValue: error)
        if code == RD_KAFKA_RESP_ERR__FATAL {
            fail(fatalError(rk, "consumer of group '\(configuration.groupID)'"))
        } else {
            let error = KafkaError.rdKafka(code, "consumer of group '\(configuration.groupID)'")
            switch code {
            case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
                // Once until a broker answers again.
                if brokersDown() {
                    logger.warning(
                        "Kafka consumer error: \(reason); probing until a broker answers",
                        metadata: ["error": "\(error)"])
                }
            case RD_KAFKA_RESP_ERR__TRANSPORT:
                // librdkafka logs each failed connection itself (facility FAIL).
                logger.debug("Kafka consumer error: \(reason)", metadata: ["error": "\(error)"])
            default:
                logger.warning("Kafka consumer error: \(reason)", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: - Broker reachability

    /// All brokers are down: ``brokersReachable`` turns false until a broker answers the probe.
    /// - Returns: whether this report is news: the first since a broker last answered.
    private func brokersDown() -> Bool {
        let isNews = reachability.withLock { reachability -> Bool in
            defer {
                reachability.isReachable = false
                reachability.hasReportedDown = true
            }
            return !reachability.hasReportedDown
        }
        startProbing()
        return isNews
    }

    /// Starts a thread asking for metadata every second until a broker answers, unless one runs already.
    func startProbing() {
        let start = reachability.withLock { reachability -> Bool in
            defer { reachability.isProbing = true }
            return !reachability.isProbing
        }
        if start {
            RDKafkaThread.start(name: "kafka-probe-\(configuration.groupID)") { [self] in probeBrokers() }
        }
    }

    /// Asks any broker for metadata (at most 1 s each time, then a 1 s pause) until one answers or the consumer
    /// is closed.
    private func probeBrokers() {
        while true {
            let answered: Bool
            do {
                answered = try withHandle { rk throws(KafkaError) -> Bool in
                    var metadata: UnsafePointer<rd_kafka_metadata>?
                    let error = rd_kafka_metadata(rk, 0, nil, &metadata, 1000)
                    if let metadata { rd_kafka_metadata_destroy(metadata) }
                    return error == RD_KAFKA_RESP_ERR_NO_ERROR
                }
            } catch {
                reachability.withLock { $0.isProbing = false }
                return
            }
            if answered {
                let recovered = reachability.withLock { reachability -> Bool in
                    defer { reachability = Reachability(isReachable: true, hasAnswered: true) }
                    return reachability.hasAnswered
                }
                if recovered {
                    logger.notice("Kafka brokers answer again", metadata: ["kafka.group": "\(configuration.groupID)"])
                }
                return
            }
            Thread.sleep(forTimeInterval: 1)
        }
    }

    /// Offset commit results (auto-commit and background commits), served by the poll thread.
    func committed(_ error: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        guard error != RD_KAFKA_RESP_ERR_NO_ERROR, error != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
        logger.warning(
            "Kafka offset commit failed; the stored offsets are retried with the next commit",
            metadata: [
                "error": "\(KafkaError.rdKafka(error, "commit of group '\(configuration.groupID)'"))",
                "kafka.partitions": "\(partitions.map { RDKafkaTopicPartitionList.partitions($0) } ?? [])",
            ]
        )
    }

    private func fatalError(_ rk: OpaquePointer, _ context: String) -> KafkaError {
        var buffer = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(rk, &buffer, buffer.count)
        let reason = RDKafkaConfig.string(buffer)
        var error = KafkaError.rdKafka(code, context, isFatal: true)
        error.message += ": \(reason). Recreate the consumer."
        return error
    }

    private func fail(_ error: KafkaError) {
        logger.error("Kafka consumer failed fatally", metadata: ["error": "\(error)"])
        let waiter = state.withLock { state -> CheckedContinuation<KafkaConsumerMessage?, any Error>? in
            if case .running = state.lifecycle { state.lifecycle = .failed(error) }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(throwing: error)
    }

    /// Leaves the group (serving the final revoke through the rebalance callback), then destroys librdkafka.
    ///
    /// Nothing may wake the consumer queue from here on: librdkafka's close forwards it to the queue the close
    /// waits on, and a wake-up there ends the close early (`_TIMED_OUT`) before the group is left. The handle is
    /// then destroyed without a second close, which would wait forever.
    private func shutDown(_ rk: OpaquePointer) {
        wakeQueue.withLock { $0 = nil }
        let error = rd_kafka_consumer_close(rk)
        // After a fatal error every close says `_FATAL`: the error itself was logged when it was raised.
        if error != RD_KAFKA_RESP_ERR_NO_ERROR, error != RD_KAFKA_RESP_ERR__FATAL {
            logger.warning(
                "Kafka consumer did not close cleanly",
                metadata: ["error": "\(KafkaError.rdKafka(error, "close of group '\(configuration.groupID)'"))"]
            )
        }
        state.withLock { $0.isDestroyed = true }
        while state.withLock({ $0.activeCalls > 0 }) { Thread.sleep(forTimeInterval: 0.001) }
        rd_kafka_queue_destroy(queues.messages)
        rd_kafka_queue_destroy(queues.consumer)
        rd_kafka_destroy_flags(rk, Int32(RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE))
        let waiter = state.withLock { state -> CheckedContinuation<KafkaConsumerMessage?, any Error>? in
            if case .failed = state.lifecycle {} else { state.lifecycle = .closed }
            state.buffer = MessageBuffer()
            state.held = [:]
            state.assignment = []
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
        logger.info("Kafka consumer closed", metadata: ["kafka.group": "\(configuration.groupID)"])
        finishClose()
    }
}

/// Topic names by librdkafka topic handle, so each message does not build its topic `String` anew.
/// The cache is dropped whenever partitions are revoked, after which librdkafka may free topic handles.
struct TopicNames {
    private var names: [OpaquePointer: String] = [:]

    mutating func name(of topic: OpaquePointer) -> String {
        if let name = names[topic] { return name }
        let name = String(cString: rd_kafka_topic_name(topic))
        names[topic] = name
        return name
    }
}
