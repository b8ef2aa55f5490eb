import KafkaClient

// MARK: - RecordCoordinates

/// Where a Kafka record lives: topic, partition and offset.
public struct RecordCoordinates: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The record's topic partition.
    public var partitionID: PartitionID
    /// The record's offset within its partition.
    public var offset: Int64

    /// - Parameters:
    ///   - partitionID: The record's topic partition.
    ///   - offset: The record's offset within its partition.
    public init(partitionID: PartitionID, offset: Int64) {
        self.partitionID = partitionID
        self.offset = offset
    }

    /// - Parameters:
    ///   - topic: The record's topic.
    ///   - partition: The record's partition.
    ///   - offset: The record's offset within its partition.
    public init(topic: String, partition: Int32, offset: Int64) {
        self.init(partitionID: PartitionID(topic: topic, partition: partition), offset: offset)
    }

    /// The record's topic.
    public var topic: String { self.partitionID.topic }

    /// The record's partition number.
    public var partition: Int32 { self.partitionID.partition }

    public static func < (lhs: RecordCoordinates, rhs: RecordCoordinates) -> Bool {
        (lhs.partitionID, lhs.offset) < (rhs.partitionID, rhs.offset)
    }

    /// `topic[partition]@offset`, as operators read it in logs.
    public var description: String { "\(self.partitionID)@\(self.offset)" }
}

extension RecordCoordinates {
    /// Where a consumed record was read.
    init(_ message: KafkaConsumerMessage) {
        self.init(topic: message.topic, partition: message.partition, offset: message.offset)
    }
}
