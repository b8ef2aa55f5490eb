// MARK: - PartitionID

/// A Kafka topic partition.
public struct PartitionID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The topic name.
    public var topic: String
    /// The partition number within the topic.
    public var partition: Int32

    /// - Parameters:
    ///   - topic: The topic name.
    ///   - partition: The partition number within the topic.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: PartitionID, rhs: PartitionID) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    /// `topic[partition]`, as operators read it in logs.
    public var description: String { "\(self.topic)[\(self.partition)]" }
}
