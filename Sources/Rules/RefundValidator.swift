import CEL

/// Checks a refund against the Affonso contract (docs/affonso.md, "Refunds") before anything is sent, and
/// normalizes it: `refunded_at` becomes an RFC 3339 string, a missing `external_event_id` or `refunded_at` gets
/// its default.
enum RefundValidator {
    /// Every key a rule's `refund` may set, in the order docs/rules.md lists them.
    static let fields: [String] = ["conversion", "amount", "currency", "reason", "external_event_id", "refunded_at"]

    struct Context {
        /// The rule and the record's coordinates (the default `external_event_id`).
        var origin: EventValidator.Context
        /// The record's timestamp: `refunded_at` when the rule sets none (nil: omitted).
        var recordTimestamp: CELTimestamp?

        var rule: String { origin.rule }
    }

    /// - Returns: the fields of the request body (without `conversion`), the conversion's `external_event_id` and
    ///   the refund's own idempotency key.
    static func validate(
        _ fields: [(String, CELValue)],
        _ context: Context
    ) throws(RulesError) -> (body: [(String, CELValue)], conversion: String, externalEventID: String) {
        func failure(_ field: String, _ message: String) -> RulesError {
            RulesError(
                code: .validation,
                message: "rule '\(context.rule)' field 'refund.\(field)': \(message)",
                rule: context.rule,
                field: "refund.\(field)"
            )
        }
        var body: [(String, CELValue)] = []
        body.reserveCapacity(fields.count + 1)
        var conversion: String?
        var externalEventID: String?
        var hasAmount = false
        var hasCurrency = false
        var hasTime = false
        for (field, value) in fields {
            switch field {
            case "conversion":
                conversion = try EventValidator.nonEmptyString(value, field, failure)
            case "amount":
                try EventValidator.checkAmount(value, field, failure)
                hasAmount = true
                body.append((field, value))
            case "currency":
                try EventValidator.checkCurrency(value, field, failure)
                hasCurrency = true
                body.append((field, value))
            case "reason":
                _ = try EventValidator.nonEmptyString(value, field, failure)
                body.append((field, value))
            case "external_event_id":
                externalEventID = try EventValidator.nonEmptyString(value, field, failure)
                body.append((field, value))
            case "refunded_at":
                body.append((field, try EventValidator.time(value, field, failure)))
                hasTime = true
            default:
                throw failure(field, "is not a field of refunds")
            }
        }
        guard let conversion else {
            throw failure(
                "conversion",
                "is required: the external_event_id of the conversion to reverse (it evaluated to null)")
        }
        if hasAmount && !hasCurrency {
            throw failure("currency", "is required with amount (a partial refund); it evaluated to null")
        }
        if externalEventID == nil {
            let id = context.origin.defaultExternalEventID
            externalEventID = id
            body.append(("external_event_id", .string(id)))
        }
        if !hasTime, let timestamp = context.recordTimestamp {
            body.append(("refunded_at", .string(RFC3339.format(timestamp))))
        }
        return (body, conversion, externalEventID!)
    }
}
