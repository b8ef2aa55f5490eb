import CRdKafka

// MARK: - Consumer group offsets

extension KafkaAdmin {
    /// A consumer group's committed offsets (the next offset its members read) of the given partitions, read
    /// without joining the group (OffsetFetch through ListConsumerGroupOffsets): its members are not disturbed.
    ///
    /// - Parameters:
    ///   - group: the consumer group id.
    ///   - partitions: which partitions.
    /// - Returns: each partition's committed offset; partitions without one are absent.
    /// - Throws: ``KafkaError`` when the broker refused or did not answer within the admin timeout.
    public func committedOffsets(
        group: String,
        partitions: [KafkaTopicPartition]
    ) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        return try await run { [timeout] rk throws(KafkaError) in
            try Self.listOffsets(rk, group: group, partitions: partitions, timeout: timeout)
        }
    }

    private static func listOffsets(
        _ rk: OpaquePointer,
        group: String,
        partitions: [KafkaTopicPartition],
        timeout: Duration
    ) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        let list = RDKafkaTopicPartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        var requests: [OpaquePointer?] = [rd_kafka_ListConsumerGroupOffsets_new(group, list)]
        defer { rd_kafka_ListConsumerGroupOffsets_destroy(requests[0]) }
        return try request(
            rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout: timeout,
            doing: "reading the committed offsets of group '\(group)'",
            failing: "could not read the committed offsets of group '\(group)'"
        ) { options, queue in
            rd_kafka_ListConsumerGroupOffsets(rk, &requests, 1, options, queue)
        } result: { event throws(KafkaError) in
            try listedOffsets(event, group: group)
        }
    }

    private static func listedOffsets(
        _ event: OpaquePointer, group: String
    ) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        var count = 0
        guard let result = rd_kafka_event_ListConsumerGroupOffsets_result(event),
            let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count), count == 1,
            let answer = groups[0]
        else { return [:] }
        if let error = rd_kafka_group_result_error(answer) {
            let code = rd_kafka_error_code(error)
            var failure = KafkaError.rdKafka(code, "could not read the committed offsets of group '\(group)'")
            if let text = rd_kafka_error_string(error) { failure.message += " (\(String(cString: text)))" }
            throw failure
        }
        guard let answered = rd_kafka_group_result_partitions(answer) else { return [:] }
        var offsets: [KafkaTopicPartition: Int64] = [:]
        for element in RDKafkaTopicPartitionList.elements(answered) {
            guard element.error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError.rdKafka(
                    element.error, "could not read the committed offset of group '\(group)' on \(element.partition)")
            }
            if element.offset >= 0 { offsets[element.partition] = element.offset }
        }
        return offsets
    }
}
