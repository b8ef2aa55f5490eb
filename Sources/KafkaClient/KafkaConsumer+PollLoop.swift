import CRdKafka
import Foundation

extension KafkaConsumer {
    /// The most messages the poll thread collects before handing them over under one lock.
    private static let batchLimit = 512

    /// Runs on the dedicated poll thread until `close()`, then closes and destroys librdkafka.
    func pollLoop() {
        let rk = handle.pointer!
        let batchLimit = min(Self.batchLimit, configuration.bufferCapacity)
        var batch: [KafkaConsumerMessage] = []
        batch.reserveCapacity(batchLimit)
        var epoch = 0
        while true {
            var timeout: Int32 = 100
            while batch.count < batchLimit, let raw = rd_kafka_consumer_poll(rk, timeout) {
                timeout = 0
                if raw.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    batch.append(KafkaConsumerMessage(raw))
                } else {
                    messageError(rk, raw)
                }
                rd_kafka_message_destroy(raw)
            }
            guard let next = deliver(batch, collectedSince: epoch) else { break }
            epoch = next
            batch.removeAll(keepingCapacity: true)
        }
        shutDown(rk)
    }

    /// Hands a batch to the buffer (or a waiting iterator); returns the current epoch, or nil to stop polling.
    private func deliver(_ batch: [KafkaConsumerMessage], collectedSince epoch: Int) -> Int? {
        let capacity = configuration.bufferCapacity
        let result = state.withLock {
            state -> (Int?, CheckedContinuation<KafkaConsumerMessage?, any Error>?, KafkaConsumerMessage?) in
            guard case .running = state.lifecycle else { return (nil, nil, nil) }
            guard !batch.isEmpty else { return (state.epoch, nil, nil) }
            var messages = batch
            if state.epoch != epoch {
                messages.removeAll { state.staleSince[$0.topicPartition, default: 0] > epoch }
            }
            if !state.userPaused.isEmpty {
                messages.removeAll { message in
                    let partition = message.topicPartition
                    guard state.userPaused.contains(partition) else { return false }
                    state.held[partition, default: []].append(message)
                    return true
                }
            }
            state.buffer.append(contentsOf: messages)
            if state.buffer.count >= capacity, !state.isBackpressurePaused {
                state.isBackpressurePaused = true
                setPaused(state.active, true)
            }
            guard state.waiter != nil, let message = state.buffer.popFirst() else { return (state.epoch, nil, nil) }
            defer { state.waiter = nil }
            return (state.epoch, state.waiter, message)
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
            logger.warning(
                "Kafka consumer error: \(reason)",
                metadata: ["error": "\(KafkaError.rdKafka(code, "consumer of group '\(configuration.groupID)'"))"]
            )
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
    private func shutDown(_ rk: OpaquePointer) {
        let error = rd_kafka_consumer_close(rk)
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning(
                "Kafka consumer did not close cleanly",
                metadata: ["error": "\(KafkaError.rdKafka(error, "close of group '\(configuration.groupID)'"))"]
            )
        }
        state.withLock { $0.isDestroyed = true }
        while state.withLock({ $0.activeCalls > 0 }) { Thread.sleep(forTimeInterval: 0.001) }
        rd_kafka_destroy(rk)
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
