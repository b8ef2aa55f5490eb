import CEL

/// One Affonso event made by one rule from one record, validated and ready to send.
public struct MappedEvent: Sendable, Hashable {
    public var rule: String
    /// `conversion`, `lead`, `trial` or `milestone` (Affonso's default when the rule sets none).
    public var eventType: String
    public var eventName: String
    /// The idempotency key: the rule's value, or `RULE:TOPIC:PARTITION:OFFSET`.
    public var externalEventID: String
    /// The fields as sent, sorted by key.
    public var fields: CELMap { CELMap(sortedFields) }
    /// The fields as sent, sorted by key (kept as a list: building a map per event costs time nobody needs).
    public var sortedFields: [(String, CELValue)]
    /// The request body: canonical JSON (sorted keys, no whitespace).
    public var body: [UInt8]

    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.rule == rhs.rule && lhs.eventType == rhs.eventType && lhs.eventName == rhs.eventName
            && lhs.externalEventID == rhs.externalEventID && lhs.body == rhs.body
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
