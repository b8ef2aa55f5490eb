import CEL

/// Checks an event against the Affonso contract (docs/affonso.md) before anything is sent, and normalizes it:
/// timestamps become RFC 3339 strings, a missing `external_event_id` gets its default.
enum EventValidator {
    static let eventTypes: [String] = ["conversion", "lead", "trial", "milestone"]
    static let intervals: Set<String> = ["monthly", "yearly"]
    /// Every key a rule's `event` may set (docs/affonso.md); `affonso_id` is sent as `referral_id`.
    static let fields: [String] = [
        "event_name", "event_type", "referral_id", "customer_id", "external_user_id", "click_id", "affonso_id",
        "external_event_id", "occurred_at", "sale_amount", "sale_amount_currency", "product_ids", "price_ids",
        "interval", "is_subscription", "metadata",
    ]

    /// Whether `type` is one of ``eventTypes`` (checked for every event: a list of four is compared, not hashed;
    /// `scripts/bench.d/51-rules-instructions` counts the same instructions per record as comparing by hand).
    static func isEventType(_ type: String) -> Bool {
        eventTypes.contains(type)
    }

    /// The rule and the record's coordinates: the default `external_event_id` is built from them only when an event
    /// has none.
    struct Context {
        var rule: String
        var topic: String
        var partition: Int32
        var offset: Int64

        /// `RULE:TOPIC:PARTITION:OFFSET`.
        var defaultExternalEventID: String { "\(rule):\(topic):\(partition):\(offset)" }
    }

    /// - Parameter fields: the rule's fields that did not evaluate to null, with their values, in the rule's order.
    /// - Returns: the event's fields as they are sent, sorted by key, and its type, name and idempotency key.
    static func validate(
        _ fields: [(EventField, CELValue)],
        _ context: Context
    ) throws(RulesError) -> (
        fields: [(EventField, CELValue)], eventType: String, eventName: String, externalEventID: String
    ) {
        func failure(_ field: String, _ message: String) -> RulesError {
            RulesError(
                code: .validation,
                message: "rule '\(context.rule)' field '\(field)': \(message)",
                rule: context.rule,
                field: field
            )
        }
        var output: [(EventField, CELValue)] = []
        output.reserveCapacity(fields.count + 1)
        var eventType = "milestone"
        var eventName: String?
        var externalEventID: String?
        // What the checks after the loop need, noted as the fields go by (not searched for by name afterwards).
        var (hasIdentifier, hasAmount, hasCurrency) = (false, false, false)
        for (event, value) in fields {
            let field = event.key
            var sent = value
            switch event {
            case .eventName:
                eventName = try nonEmptyString(value, field, failure)
            case .eventType:
                let type = try nonEmptyString(value, field, failure)
                guard Self.isEventType(type) else {
                    let allowed = Self.eventTypes.joined(separator: ", ")
                    throw failure(field, "must be one of \(allowed); got \(describe(value))")
                }
                eventType = type
            case .referralID, .customerID, .externalUserID, .clickID:
                _ = try nonEmptyString(value, field, failure)
                hasIdentifier = true
            case .saleAmountCurrency:
                try checkCurrency(value, field, failure)
                hasCurrency = true
            case .externalEventID:
                externalEventID = try nonEmptyString(value, field, failure)
            case .occurredAt:
                sent = try time(value, field, failure)
            case .saleAmount:
                try checkAmount(value, field, failure)
                hasAmount = true
            case .productIDs, .priceIDs:
                guard case .list(let list) = value else {
                    throw failure(field, "must be a list of strings, got \(describe(value))")
                }
                for element in list {
                    guard case .string(let text) = element, !text.isEmpty else {
                        throw failure(field, "must be a list of non-empty strings, has \(describe(element))")
                    }
                }
            case .interval:
                guard case .string(let text) = value, intervals.contains(text) else {
                    throw failure(field, "must be 'monthly' or 'yearly', got \(describe(value))")
                }
            case .isSubscription:
                guard case .bool = value else { throw failure(field, "must be a bool, got \(describe(value))") }
            case .metadata:
                guard case .map = value else {
                    throw failure(field, "must be a map, got \(describe(value))")
                }
                try checkJSON(value, path: field, failure)
            }
            // Sorted as they go in: found by a short scan, moved without copying their values.
            output.insert((event, sent), at: output.lastIndex { $0.0 < event }.map { $0 + 1 } ?? 0)
        }
        guard let eventName else {
            throw failure("event_name", "is required")
        }
        guard hasIdentifier else {
            throw failure(
                "referral_id",
                "the event has no identifier; set at least one of referral_id (affonso_id), customer_id, "
                    + "external_user_id, click_id (an identifier that evaluates to null is omitted)"
            )
        }
        if eventType == "conversion" {
            guard hasAmount else {
                throw failure("sale_amount", "is required for a conversion")
            }
            guard hasCurrency else {
                throw failure("sale_amount_currency", "is required for a conversion")
            }
        }
        if externalEventID == nil {
            let id = context.defaultExternalEventID
            externalEventID = id
            output.insert(
                (.externalEventID, .string(id)), at: output.lastIndex { $0.0 < .externalEventID }.map { $0 + 1 } ?? 0)
        }
        return (output, eventType, eventName, externalEventID!)
    }

    // MARK: - Field checks (shared with RefundValidator)

    /// A three-letter ISO 4217 code, upper case.
    static func checkCurrency(
        _ value: CELValue,
        _ field: String,
        _ failure: (String, String) -> RulesError
    ) throws(RulesError) {
        let text = try nonEmptyString(value, field, failure)
        guard ISO4217.codes.contains(text) else {
            let hint = ISO4217.codes.contains(text.uppercased()) ? " (codes are upper case: use .upperAscii())" : ""
            throw failure(field, "must be a three-letter ISO 4217 currency code, got \(describe(value))\(hint)")
        }
    }

    /// A positive finite number (major units).
    static func checkAmount(
        _ value: CELValue,
        _ field: String,
        _ failure: (String, String) -> RulesError
    ) throws(RulesError) {
        let amount: Double
        switch value {
        case .int(let int): amount = Double(int)
        case .uint(let uint): amount = Double(uint)
        case .double(let double): amount = double
        default: throw failure(field, "must be a number, got \(describe(value))")
        }
        guard amount.isFinite, amount > 0 else {
            throw failure(field, "must be a positive finite amount in major units, got \(describe(value))")
        }
    }

    /// A timestamp, or an RFC 3339 string; returned as the RFC 3339 string that is sent.
    static func time(
        _ value: CELValue,
        _ field: String,
        _ failure: (String, String) -> RulesError
    ) throws(RulesError) -> CELValue {
        switch value {
        case .timestamp(let timestamp): return .string(RFC3339.format(timestamp))
        case .string(let text) where RFC3339.parse(text) != nil: return value
        default:
            throw failure(
                field, "must be a timestamp or an RFC 3339 string, got \(describe(value)); use timestamp(…) to convert")
        }
    }

    static func nonEmptyString(
        _ value: CELValue,
        _ field: String,
        _ failure: (String, String) -> RulesError
    ) throws(RulesError) -> String {
        guard case .string(let text) = value else {
            let hint: String
            switch value {
            case .int, .uint, .double: hint = "; use string(…) to convert"
            default: hint = ""
            }
            throw failure(field, "must be a string, got \(describe(value))\(hint)")
        }
        guard !text.isEmpty else { throw failure(field, "must not be empty") }
        return text
    }

    /// Metadata must be representable as JSON: string keys, finite numbers.
    private static func checkJSON(
        _ value: CELValue,
        path: String,
        _ failure: (String, String) -> RulesError
    ) throws(RulesError) {
        switch value {
        case .double(let double) where !double.isFinite:
            throw failure("metadata", "\(path) is \(double), which JSON cannot carry")
        case .list(let list):
            for (index, element) in list.enumerated() { try checkJSON(element, path: "\(path)[\(index)]", failure) }
        case .map(let map):
            for (key, element) in map.entries {
                guard case .string(let name) = key else {
                    throw failure("metadata", "\(path) has a non-string key \(describe(key))")
                }
                try checkJSON(element, path: "\(path).\(name)", failure)
            }
        case .optional(let wrapped):
            if let wrapped { try checkJSON(wrapped, path: path, failure) }
        default: break
        }
    }

    /// A value as JSON (cut to 80 bytes) with its CEL type, for error messages.
    static func describe(_ value: CELValue) -> String {
        var text = JSONWriter.string(value)
        if text.utf8.count > 80 { text = String(text.prefix(77)) + "..." }
        return "\(text) (\(typeName(value)))"
    }

    static func typeName(_ value: CELValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "bool"
        case .int: "int"
        case .uint: "uint"
        case .double: "double"
        case .string: "string"
        case .bytes: "bytes"
        case .list: "list"
        case .map: "map"
        case .timestamp: "timestamp"
        case .duration: "duration"
        case .type: "type"
        case .optional: "optional"
        }
    }
}
