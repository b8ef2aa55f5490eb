import struct Foundation.Date

// MARK: - Writing and reading headers

extension RetryEnvelope {
    /// The headers of the record to produce: the failed record's own headers without any earlier
    /// `affonso-relay.*` ones, then this envelope's.
    ///
    /// - Parameter headers: The failed record's headers (a source record's, or a retry record's).
    /// - Returns: The headers for the retry-tier or dead-letter record.
    public func headers(keeping headers: [RecordHeader]) -> [RecordHeader] {
        var result = Self.removingRelayHeaders(headers)
        result.reserveCapacity(result.count + 11)
        result.append(contentsOf: self.relayHeaders)
        return result
    }

    /// This envelope's `affonso-relay.*` headers alone, in SPEC.md §6 order.
    public var relayHeaders: [RecordHeader] {
        [
            RecordHeader(key: HeaderName.attempt, string: String(self.attempt)),
            RecordHeader(key: HeaderName.rule, string: self.rule),
            RecordHeader(key: HeaderName.originalTopic, string: self.original.topic),
            RecordHeader(key: HeaderName.originalPartition, string: String(self.original.partition)),
            RecordHeader(key: HeaderName.originalOffset, string: String(self.original.offset)),
            RecordHeader(key: HeaderName.originalTimestamp, string: self.originalTimestamp.map(WallClock.format) ?? ""),
            RecordHeader(key: HeaderName.errorClass, string: self.errorClass.rawValue),
            RecordHeader(key: HeaderName.errorMessage, string: self.errorMessage),
            RecordHeader(key: HeaderName.errorStatus, string: self.errorStatus.map { String($0) } ?? ""),
            RecordHeader(key: HeaderName.firstFailureAt, string: WallClock.format(self.firstFailureAt)),
            RecordHeader(key: HeaderName.notBefore, string: WallClock.format(self.notBefore)),
        ]
    }

    /// The headers without any `affonso-relay.*` one: what the source record carried, for re-mapping on replay.
    ///
    /// - Parameter headers: A record's headers.
    public static func removingRelayHeaders(_ headers: [RecordHeader]) -> [RecordHeader] {
        headers.filter { !$0.key.hasPrefix(HeaderName.prefix) }
    }

    /// Reads the envelope from a record's headers (a retry-tier consumer, `dlq inspect`, `dlq replay`).
    ///
    /// - Parameter headers: The record's headers; when a relay header repeats, the last one wins.
    /// - Returns: The envelope, or `nil` when the record has no `affonso-relay.*` header (it never failed).
    /// - Throws: ``RelayError`` with code ``RelayError/Code/malformedRetryHeaders`` when a required header is
    ///   missing or a value cannot be read; the message names the header and the value.
    public static func parse(_ headers: [RecordHeader]) throws(RelayError) -> RetryEnvelope? {
        var values: [String: String?] = [:]
        for header in headers where header.key.hasPrefix(HeaderName.prefix) {
            values[header.key] = .some(header.stringValue)
        }
        guard !values.isEmpty else { return nil }

        func text(_ name: String, required: Bool = true) throws(RelayError) -> String? {
            guard let entry = values[name] else {
                if required {
                    throw Self.malformed("header \(name) is missing")
                }
                return nil
            }
            guard let value = entry else {
                throw Self.malformed("header \(name) is null or not UTF-8")
            }
            return value
        }
        func integer<Value: FixedWidthInteger>(_ name: String, as type: Value.Type) throws(RelayError) -> Value {
            let value = try text(name)!
            guard let number = Value(value) else {
                throw Self.malformed("header \(name) is \"\(value)\", not a whole number")
            }
            return number
        }
        func time(_ name: String, required: Bool = true) throws(RelayError) -> Date? {
            guard let value = try text(name, required: required), !value.isEmpty || required else { return nil }
            guard let date = WallClock.parse(value) else {
                throw Self.malformed("header \(name) is \"\(value)\", not an RFC 3339 time")
            }
            return date
        }

        let attempt = try integer(HeaderName.attempt, as: Int.self)
        guard attempt >= 0 else {
            throw Self.malformed(
                "header \(HeaderName.attempt) is \(attempt); it counts failed attempts (0 for a replayed dead letter)")
        }
        let rule = try text(HeaderName.rule)!
        let topic = try text(HeaderName.originalTopic)!
        let partition = try integer(HeaderName.originalPartition, as: Int32.self)
        let offset = try integer(HeaderName.originalOffset, as: Int64.self)
        let className = try text(HeaderName.errorClass)!
        guard let errorClass = ErrorClass(rawValue: className) else {
            let known = ErrorClass.allCases.map(\.rawValue).joined(separator: ", ")
            throw Self.malformed("header \(HeaderName.errorClass) is \"\(className)\", not one of \(known)")
        }
        var status: Int?
        if let statusText = try text(HeaderName.errorStatus, required: false), !statusText.isEmpty {
            guard let number = Int(statusText) else {
                throw Self.malformed("header \(HeaderName.errorStatus) is \"\(statusText)\", not an HTTP status")
            }
            status = number
        }
        return RetryEnvelope(
            attempt: attempt,
            rule: rule,
            original: RecordCoordinates(topic: topic, partition: partition, offset: offset),
            originalTimestamp: try time(HeaderName.originalTimestamp, required: false),
            errorClass: errorClass,
            errorMessage: try text(HeaderName.errorMessage, required: false) ?? "",
            errorStatus: status,
            firstFailureAt: try time(HeaderName.firstFailureAt)!,
            notBefore: try time(HeaderName.notBefore)!
        )
    }

    private static func malformed(_ problem: String) -> RelayError {
        RelayError(
            code: .malformedRetryHeaders,
            message: "retry headers: \(problem); the record was not written by this relay version or was edited"
                + " — dead-letter it or fix the headers"
        )
    }
}
