/// A record read by ``KafkaConsumer``.
///
/// A value with its fields in one shared object (copied on write): a record is copied at every hand-off on its way
/// to delivery (the pipeline's queues, its jobs, their retry and dead-letter records), and a copy of five
/// reference-counted fields cost five retains and five releases where one of each does now.
public struct KafkaConsumerMessage: Sendable, Hashable {
    /// The fields. Mutated only while uniquely referenced (``fields``), so sharing it between threads is safe.
    private final class Storage: @unchecked Sendable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var key: [UInt8]?
        var value: [UInt8]
        var headers: [KafkaHeader]
        var timestampMilliseconds: Int64?
        var reservation: ByteBudget.Reservation?

        init(
            topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader],
            timestampMilliseconds: Int64?, reservation: ByteBudget.Reservation?
        ) {
            self.topic = topic
            self.partition = partition
            self.offset = offset
            self.key = key
            self.value = value
            self.headers = headers
            self.timestampMilliseconds = timestampMilliseconds
            self.reservation = reservation
        }

        func copy() -> Storage {
            Storage(
                topic: topic, partition: partition, offset: offset, key: key, value: value, headers: headers,
                timestampMilliseconds: timestampMilliseconds, reservation: reservation)
        }
    }

    private var storage: Storage

    /// The storage, copied first when another message shares it.
    private var fields: Storage {
        mutating get {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            return storage
        }
    }

    /// The topic the record was read from.
    public var topic: String {
        get { storage.topic }
        set { fields.topic = newValue }
    }
    /// The partition the record was read from.
    public var partition: Int32 {
        get { storage.partition }
        set { fields.partition = newValue }
    }
    /// The record's offset in its partition. Store `offset + 1` once it is processed.
    public var offset: Int64 {
        get { storage.offset }
        set { fields.offset = newValue }
    }
    /// The record key; `nil` when the record has none.
    public var key: [UInt8]? {
        get { storage.key }
        set { fields.key = newValue }
    }
    /// The record value; empty for a null value (tombstone).
    public var value: [UInt8] {
        get { storage.value }
        set { fields.value = newValue }
    }
    /// The record headers, in order.
    public var headers: [KafkaHeader] {
        get { storage.headers }
        set { fields.headers = newValue }
    }
    /// The record timestamp in milliseconds since the Unix epoch, when the record has one.
    public var timestampMilliseconds: Int64? {
        get { storage.timestampMilliseconds }
        set { fields.timestampMilliseconds = newValue }
    }
    /// The consumer's ``ByteBudget`` share for this record; returned when the last copy of the record is gone.
    var reservation: ByteBudget.Reservation? {
        get { storage.reservation }
        set { fields.reservation = newValue }
    }

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
        storage = Storage(
            topic: topic, partition: partition, offset: offset, key: key, value: value, headers: headers,
            timestampMilliseconds: timestampMilliseconds, reservation: nil)
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
