/// A record read by ``KafkaConsumer``.
public struct KafkaConsumerMessage: Sendable, Hashable {
    /// The topic the record was read from.
    public var topic: String
    /// The partition the record was read from.
    public var partition: Int32
    /// The record's offset in its partition. Store `offset + 1` once it is processed.
    public var offset: Int64
    /// The record key; `nil` when the record has none.
    public var key: [UInt8]?
    /// The record value; empty for a null value (tombstone).
    public var value: [UInt8]
    /// The record headers, in order.
    public var headers: [KafkaHeader]
    /// The record timestamp in milliseconds since the Unix epoch, when the record has one.
    public var timestampMilliseconds: Int64?
    /// The consumer's ``ByteBudget`` share for this record; returned when the last copy of the record is gone.
    var reservation: ByteBudget.Reservation?

    /// Creates a message (tests and tools; the consumer creates them from librdkafka).
    public init(
        topic: String,
        partition: Int32,
        offset: Int64,
        key: [UInt8]?,
        value: [UInt8],
        headers: [KafkaHeader] = [],
        timestampMilliseconds: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The memory the record holds, as charged to the consumer's ``ByteBudget``: key, value, header names and
    /// values, and a fixed allowance for the message itself.
    public var heldBytes: Int {
        headers.reduce((key?.count ?? 0) + value.count + 128) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) + 32 }
    }

    /// The record's topic and partition.
    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }
}

extension KafkaConsumerMessage {
    /// Equal when every field is (the budget reservation is not part of the record).
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.topic == rhs.topic && lhs.partition == rhs.partition && lhs.offset == rhs.offset && lhs.key == rhs.key
            && lhs.value == rhs.value && lhs.headers == rhs.headers
            && lhs.timestampMilliseconds == rhs.timestampMilliseconds
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(topic)
        hasher.combine(partition)
        hasher.combine(offset)
        hasher.combine(key)
        hasher.combine(value)
        hasher.combine(headers)
        hasher.combine(timestampMilliseconds)
    }
}
