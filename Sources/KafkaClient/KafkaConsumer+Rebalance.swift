import CRdKafka
import Dispatch

extension KafkaConsumer {
    /// librdkafka's rebalance callback, on the poll thread (or inside `rd_kafka_consumer_close`).
    func rebalance(
        _ rk: OpaquePointer,
        _ error: rd_kafka_resp_err_t,
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) {
        let partitions = RDKafkaTopicPartitionList.partitions(list)
        let isCooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            assign(rk, list, partitions, isCooperative: isCooperative)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            revoke(rk, list, partitions, isCooperative: isCooperative, isLost: rd_kafka_assignment_lost(rk) != 0)
        default:
            logger.error(
                "Kafka rebalance failed; dropping the assignment",
                metadata: ["error": "\(KafkaError.rdKafka(error, "rebalance of group '\(configuration.groupID)'"))"]
            )
            revoke(rk, list, partitions, isCooperative: isCooperative, isLost: true)
        }
    }

    private func assign(
        _ rk: OpaquePointer,
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
        _ partitions: [KafkaTopicPartition],
        isCooperative: Bool
    ) {
        // Messages of every assigned partition go to our own queue (not the consumer queue, which keeps
        // rebalance and error events), so the poll thread can stop taking messages yet keep serving events.
        for partition in partitions {
            guard let queue = rd_kafka_queue_get_partition(rk, partition.topic, partition.partition) else { continue }
            rd_kafka_queue_forward(queue, queues.messages)
            rd_kafka_queue_destroy(queue)
        }
        if isCooperative {
            if let error = rd_kafka_incremental_assign(rk, list) {
                logger.error(
                    "Kafka incremental assign failed",
                    metadata: ["error": "\(KafkaError.rdKafka(consuming: error, "assign"))"])
            }
        } else {
            let error = rd_kafka_assign(rk, list)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.error("Kafka assign failed", metadata: ["error": "\(KafkaError.rdKafka(error, "assign"))"])
            }
        }
        state.withLock { state in
            let added = Set(partitions)
            state.assignment.formUnion(added)
            state.revoking.subtract(added)
            // A partition starts unpaused at every assignment: the application decides afresh (see `pause`).
            // librdkafka may keep an application pause on its partition object across an unassignment, so it is
            // lifted there too.
            state.userPaused.subtract(added)
            setPaused(partitions, false)
        }
        logger.debug(
            "Kafka partitions assigned",
            metadata: ["kafka.group": "\(configuration.groupID)", "kafka.partitions": "\(partitions)"]
        )
        runHandler(.assigned(partitions))
    }

    private func revoke(
        _ rk: OpaquePointer,
        _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
        _ partitions: [KafkaTopicPartition],
        isCooperative: Bool,
        isLost: Bool
    ) {
        let revoked = Set(partitions)
        state.withLock { state in
            state.invalidate(revoked)
            if isLost {
                state.assignment.subtract(revoked)
            } else {
                state.revoking.formUnion(revoked)
            }
        }
        logger.info(
            isLost ? "Kafka partitions lost" : "Kafka partitions revoked",
            metadata: ["kafka.group": "\(configuration.groupID)", "kafka.partitions": "\(partitions)"]
        )
        runHandler(isLost ? .lost(partitions) : .revoked(partitions))
        if !isLost {
            let error = rd_kafka_commit(rk, nil, 0)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR, error != RD_KAFKA_RESP_ERR__NO_OFFSET {
                logger.warning(
                    "Kafka commit on revoke failed",
                    metadata: ["error": "\(KafkaError.rdKafka(error, "commit on revoke of \(partitions)"))"]
                )
            }
        }
        state.withLock { state in
            state.assignment.subtract(revoked)
            state.revoking.subtract(revoked)
            state.userPaused.subtract(revoked)
        }
        if isCooperative {
            if let error = rd_kafka_incremental_unassign(rk, list) {
                logger.error(
                    "Kafka incremental unassign failed",
                    metadata: ["error": "\(KafkaError.rdKafka(consuming: error, "unassign"))"])
            }
        } else {
            let error = rd_kafka_assign(rk, nil)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.error("Kafka unassign failed", metadata: ["error": "\(KafkaError.rdKafka(error, "unassign"))"])
            }
        }
    }

    /// Runs the application's handler and waits for it, at most `revokeDeadline`.
    private func runHandler(_ event: RebalanceEvent) {
        guard let handler = rebalanceHandler else { return }
        switch event {
        case .assigned(let partitions), .revoked(let partitions), .lost(let partitions):
            // Cooperative rebalancing often ends with an empty assignment step; it changes nothing.
            guard !partitions.isEmpty else { return }
        }
        let done = DispatchSemaphore(value: 0)
        Task {
            await handler(event)
            done.signal()
        }
        let deadline = DispatchTime.now() + .milliseconds(RDKafkaConfig.milliseconds(configuration.revokeDeadline))
        if done.wait(timeout: deadline) == .timedOut {
            logger.warning(
                "Kafka rebalance handler did not finish within the revoke deadline; continuing without it",
                metadata: ["kafka.group": "\(configuration.groupID)", "kafka.event": "\(event)"]
            )
        }
    }
}
