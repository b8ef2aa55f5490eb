import CEL

/// One Affonso event made by one rule from one record, validated and ready to send; or, when ``refund`` is set,
/// one refund (`POST /v1/conversions/{id}/refund`) made by a refund rule.
///
/// A value with its fields in one shared, immutable object: an event is copied at each step of its delivery (the
/// job, the worker's next step, the core's notices), and a copy of its six reference-counted fields cost six retains
/// and six releases where one of each does now.
public struct MappedEvent: Sendable, Hashable {
    /// What a refund rule adds: which conversion the refund reverses.
    public struct Refund: Sendable, Hashable {
        /// The `external_event_id` of the conversion to reverse (the relay resolves it to the conversion's
        /// Affonso id, `com_…`).
        public var conversionExternalEventID: String
        public init(conversionExternalEventID: String) {
            self.conversionExternalEventID = conversionExternalEventID
        }
    }

    /// The fields, never changed after the event is made.
    private final class Storage: Sendable {
        let rule: String
        let eventType: String
        let eventName: String
        let externalEventID: String
        let sortedFields: [(String, CELValue)]
        let body: [UInt8]
        let refund: Refund?

        init(
            rule: String, eventType: String, eventName: String, externalEventID: String,
            sortedFields: [(String, CELValue)], body: [UInt8], refund: Refund?
        ) {
            self.rule = rule
            self.eventType = eventType
            self.eventName = eventName
            self.externalEventID = externalEventID
            self.sortedFields = sortedFields
            self.body = body
            self.refund = refund
        }
    }

    private let storage: Storage

    public init(
        rule: String, eventType: String, eventName: String, externalEventID: String,
        sortedFields: [(String, CELValue)], body: [UInt8], refund: Refund? = nil
    ) {
        storage = Storage(
            rule: rule, eventType: eventType, eventName: eventName, externalEventID: externalEventID,
            sortedFields: sortedFields, body: body, refund: refund)
    }

    public var rule: String { storage.rule }
    /// `conversion`, `lead`, `trial` or `milestone` (Affonso's default when the rule sets none); `refund` for a
    /// refund.
    public var eventType: String { storage.eventType }
    /// The event's `event_name`; `refund` for a refund.
    public var eventName: String { storage.eventName }
    /// The idempotency key: the rule's value, or `RULE:TOPIC:PARTITION:OFFSET` (for a refund: the refund's own
    /// key, not the conversion's).
    public var externalEventID: String { storage.externalEventID }
    /// The fields as sent, sorted by key.
    public var fields: CELMap { CELMap(sortedFields) }
    /// The fields as sent, sorted by key (kept as a list: building a map per event costs time nobody needs).
    public var sortedFields: [(String, CELValue)] { storage.sortedFields }
    /// The request body: canonical JSON (sorted keys, no whitespace). For a refund, the body of
    /// `POST /v1/conversions/{id}/refund` (`amount`, `currency`, `reason`, `external_event_id`, `refunded_at`;
    /// no `conversion`).
    public var body: [UInt8] { storage.body }
    /// nil for an event (`POST /v1/events`); set for a refund.
    public var refund: Refund? { storage.refund }

    /// Whether this is a refund rather than an event.
    public var isRefund: Bool { refund != nil }

    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.rule == rhs.rule && lhs.eventType == rhs.eventType && lhs.eventName == rhs.eventName
                && lhs.externalEventID == rhs.externalEventID && lhs.body == rhs.body && lhs.refund == rhs.refund)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rule)
        hasher.combine(body)
    }
}

/// What one rule made of a record.
public struct RuleResult: Sendable, Hashable {
    public var rule: String
    /// The event, or a `mapping` / `validation` error naming rule, field and value.
    public var result: Result<MappedEvent, RulesError>

    public var event: MappedEvent? { try? result.get() }
    public var error: RulesError? {
        if case .failure(let error) = result { return error }
        return nil
    }
}

/// What became of one record (docs/rules.md, "rules apply").
public enum RecordOutcome: Sendable, Hashable {
    /// One entry per matching rule, in rule order (fan-out).
    case results([RuleResult])
    /// No rule matched: the record is `unmatched`.
    case skipped
    /// The record itself is unusable: class `decode` or `record_too_large`.
    case failed(RulesError)
}
