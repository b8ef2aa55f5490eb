import KafkaClient

/// A Kafka topic partition, as the relay's state machines key their state (`topic[partition]` in logs).
public typealias PartitionID = KafkaTopicPartition
