import struct Foundation.Date

// MARK: - RetryEnvelope

/// The failure history a retry-tier or dead-letter record carries in its `affonso-relay.*` headers
/// (SPEC.md §6), next to the original record's key, value and headers.
///
/// Times are written as RFC 3339 in UTC with milliseconds (`2026-11-25T15:11:02.123Z`); numbers in decimal.
/// Every header is always written, so tools can rely on the full set: `error.status` and
/// `original.timestamp` are empty when there was no HTTP status or record timestamp, and a dead letter's
/// `not_before` is the time it was dead-lettered.
public struct RetryEnvelope: Sendable, Hashable {
    /// The header names, exactly as SPEC.md §6 spells them.
    public enum HeaderName {
        /// Prefix of every header the relay owns.
        public static let prefix = "affonso-relay."
        /// How many delivery attempts (rounds from Kafka) have failed, 1 on the first retry record.
        public static let attempt = "affonso-relay.attempt"
        /// The rule whose event failed; a retried record re-runs only this rule.
        public static let rule = "affonso-relay.rule"
        /// Topic of the source record.
        public static let originalTopic = "affonso-relay.original.topic"
        /// Partition of the source record.
        public static let originalPartition = "affonso-relay.original.partition"
        /// Offset of the source record.
        public static let originalOffset = "affonso-relay.original.offset"
        /// Timestamp of the source record.
        public static let originalTimestamp = "affonso-relay.original.timestamp"
        /// The last failure's class (``ErrorClass``).
        public static let errorClass = "affonso-relay.error.class"
        /// The last failure's message, scrubbed of secrets.
        public static let errorMessage = "affonso-relay.error.message"
        /// The last failure's HTTP status, empty when there was none.
        public static let errorStatus = "affonso-relay.error.status"
        /// When the first failure happened.
        public static let firstFailureAt = "affonso-relay.first_failure_at"
        /// The record is not attempted before this time.
        public static let notBefore = "affonso-relay.not_before"
        /// On a dead letter that was too large to write whole: the size of the value that was dropped (the
        /// original record is at the `original.*` coordinates).
        public static let valueDropped = "affonso-relay.value_dropped"
    }

    /// The longest error message written to a header, in UTF-8 bytes; longer ones are cut and end in `…`.
    public static let maximumMessageBytes = 1024

    /// How many delivery attempts (rounds from Kafka, each with its in-process retries) have failed.
    public var attempt: Int
    /// The rule whose event failed.
    public var rule: String
    /// Where the source record lives (not the retry record's own coordinates).
    public var original: RecordCoordinates
    /// The source record's timestamp, if it had one.
    public var originalTimestamp: Date?
    /// The last failure's class.
    public var errorClass: ErrorClass
    /// The last failure's message, scrubbed of secrets and at most ``maximumMessageBytes`` long.
    public var errorMessage: String
    /// The last failure's HTTP status, if the API answered.
    public var errorStatus: Int?
    /// When the first failure happened.
    public var firstFailureAt: Date
    /// The record is not attempted before this time.
    public var notBefore: Date

    /// - Parameters:
    ///   - attempt: How many delivery attempts have failed.
    ///   - rule: The rule whose event failed.
    ///   - original: The source record's coordinates.
    ///   - originalTimestamp: The source record's timestamp.
    ///   - errorClass: The last failure's class.
    ///   - errorMessage: The last failure's message; secrets are scrubbed and it is cut to ``maximumMessageBytes``.
    ///   - errorStatus: The last failure's HTTP status.
    ///   - firstFailureAt: When the first failure happened.
    ///   - notBefore: The record is not attempted before this time.
    ///   - knownSecrets: Exact secrets to scrub from the message as well (the configured API key).
    public init(
        attempt: Int,
        rule: String,
        original: RecordCoordinates,
        originalTimestamp: Date?,
        errorClass: ErrorClass,
        errorMessage: String,
        errorStatus: Int?,
        firstFailureAt: Date,
        notBefore: Date,
        knownSecrets: [String] = []
    ) {
        self.attempt = attempt
        self.rule = rule
        self.original = original
        self.originalTimestamp = originalTimestamp
        self.errorClass = errorClass
        self.errorMessage = Self.truncate(SecretScrubber.scrub(errorMessage, knownSecrets: knownSecrets))
        self.errorStatus = errorStatus
        self.firstFailureAt = firstFailureAt
        self.notBefore = notBefore
    }

    /// The envelope for a record that just failed: the first one for a source record, or the next one for a
    /// record read back from a retry tier (keeping its original coordinates and first failure time).
    ///
    /// - Parameters:
    ///   - previous: The envelope the failed record carried, or `nil` when it came from a source topic.
    ///   - record: The failed record's coordinates (used as the original when `previous` is `nil`).
    ///   - timestamp: The failed record's timestamp (used as the original when `previous` is `nil`).
    ///   - rule: The rule whose event failed.
    ///   - errorClass: The failure's class.
    ///   - message: The failure's message; secrets are scrubbed.
    ///   - status: The failure's HTTP status, if the API answered.
    ///   - attempt: How many delivery attempts have failed now (``RetryPolicy`` decides it).
    ///   - notBefore: When the record may be attempted again (the dead-letter time for a dead letter).
    ///   - now: The time of this failure.
    ///   - knownSecrets: Exact secrets to scrub from the message as well.
    public static func failure(
        after previous: RetryEnvelope?,
        record: RecordCoordinates,
        timestamp: Date?,
        rule: String,
        errorClass: ErrorClass,
        message: String,
        status: Int?,
        attempt: Int,
        notBefore: Date,
        now: Date,
        knownSecrets: [String] = []
    ) -> RetryEnvelope {
        RetryEnvelope(
            attempt: attempt,
            rule: rule,
            original: previous?.original ?? record,
            originalTimestamp: previous == nil ? timestamp : previous?.originalTimestamp,
            errorClass: errorClass,
            errorMessage: message,
            errorStatus: status,
            firstFailureAt: previous?.firstFailureAt ?? now,
            notBefore: notBefore,
            knownSecrets: knownSecrets
        )
    }

    /// How long until the record may be attempted, or `nil` when it is due.
    ///
    /// `not_before` is input like any header: a record of a retry tier never waits longer than the tier's delay
    /// after the retry record was written (its own timestamp, or now when it has none or one in the future), so a
    /// `not_before` in year 9999 cannot hold its partition.
    ///
    /// - Parameters:
    ///   - now: The current wall-clock time.
    ///   - recordTimestamp: The retry record's own timestamp (when it was written to the tier).
    ///   - tierDelay: The delay of the tier the record was read from; `nil` when it is not a known tier.
    public func remainingDelay(now: Date, recordTimestamp: Date? = nil, tierDelay: Duration? = nil) -> Duration? {
        var due = self.notBefore
        if let tierDelay {
            let written = min(recordTimestamp ?? now, now)
            let delaySeconds = Double(tierDelay.components.seconds) + Double(tierDelay.components.attoseconds) / 1e18
            due = min(due, written.addingTimeInterval(delaySeconds))
        }
        let seconds = due.timeIntervalSince(now)
        guard seconds > 0 else { return nil }
        // At most about 31,000 years away (parsed times stay within years 1–9999): no overflow.
        return .milliseconds(Int64(min((seconds * 1000).rounded(.up), 1e15)))
    }

    private static func truncate(_ message: String) -> String {
        guard message.utf8.count > Self.maximumMessageBytes else { return message }
        let ellipsis = "…"
        let budget = Self.maximumMessageBytes - ellipsis.utf8.count
        var result = ""
        var used = 0
        for character in message {
            let size = character.utf8.count
            guard used + size <= budget else { break }
            result.append(character)
            used += size
        }
        return result + ellipsis
    }
}
