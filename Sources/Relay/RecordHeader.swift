import KafkaClient

/// One Kafka record header: ordered, keys may repeat, a value may be null.
public typealias RecordHeader = KafkaHeader

extension KafkaHeader {
    /// The value decoded as UTF-8, or `nil` when it is null or not valid UTF-8.
    public var stringValue: String? {
        guard let value else { return nil }
        return String(validating: value, as: UTF8.self)
    }
}
