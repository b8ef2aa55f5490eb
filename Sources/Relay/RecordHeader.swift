// MARK: - RecordHeader

/// One Kafka record header. Headers are an ordered list; a key may repeat and a value may be null.
public struct RecordHeader: Sendable, Hashable {
    /// The header name.
    public var key: String
    /// The header value bytes, or `nil` for a null header.
    public var value: [UInt8]?

    /// - Parameters:
    ///   - key: The header name.
    ///   - value: The header value bytes, or `nil` for a null header.
    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    /// - Parameters:
    ///   - key: The header name.
    ///   - string: The header value, stored as UTF-8.
    public init(key: String, string: String) {
        self.init(key: key, value: Array(string.utf8))
    }

    /// The value decoded as UTF-8, or `nil` when it is null or not valid UTF-8.
    public var stringValue: String? {
        guard let value else { return nil }
        return String(validating: value, as: UTF8.self)
    }
}
