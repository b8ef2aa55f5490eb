import CEL

/// A Kafka record as the rules see it.
public struct SourceRecord: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    /// In the order received; a repeated name keeps its last value in `record.headers`.
    public var headers: [Header]
    /// Default: nil (then `record.timestamp` is the Unix epoch).
    public var timestamp: CELTimestamp?

    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: [UInt8]
        public init(name: String, value: [UInt8]) {
            self.name = name
            self.value = value
        }
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = Array(value.utf8)
        }
    }

    /// A value already parsed from JSON (by `rules apply`), so it is not parsed twice.
    var parsedValue: CELValue?

    public init(
        topic: String,
        partition: Int32 = 0,
        offset: Int64 = 0,
        key: [UInt8]? = nil,
        value: [UInt8],
        headers: [Header] = [],
        timestamp: CELTimestamp? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}
