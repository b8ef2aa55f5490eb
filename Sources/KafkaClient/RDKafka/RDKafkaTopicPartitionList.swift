import CRdKafka

/// Helpers between `rd_kafka_topic_partition_list_t` and Swift values.
enum RDKafkaTopicPartitionList {
    /// A new list the caller must destroy with `rd_kafka_topic_partition_list_destroy`.
    static func make(
        _ partitions: [KafkaTopicPartition],
        offset: (KafkaTopicPartition) -> Int64 = { _ in Int64(RD_KAFKA_OFFSET_INVALID) }
    ) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))!
        for partition in partitions {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
            element.pointee.offset = offset(partition)
        }
        return list
    }

    /// The elements of a list with their offsets and per-partition errors.
    static func elements(
        _ list: UnsafePointer<rd_kafka_topic_partition_list_t>
    ) -> [(partition: KafkaTopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
        var result: [(partition: KafkaTopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] = []
        result.reserveCapacity(Int(list.pointee.cnt))
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            result.append(
                (
                    KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition),
                    element.offset, element.err
                )
            )
        }
        return result
    }

    static func partitions(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [KafkaTopicPartition] {
        elements(list).map(\.partition)
    }
}
