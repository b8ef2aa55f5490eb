/// A validated `POST /v1/conversions/{id}/refund` body (docs/affonso.md, "Refunds").
struct SandboxRefundRequest: Sendable {
    /// `amount` in minor units of ``currency``; `nil` refunds what remains.
    var amountMinorUnits: Int64?
    /// `currency`, upper case; must be the conversion's.
    var currency: String
    var reason: String?
    /// The refund's idempotency key; refunds without one are never deduplicated.
    var externalEventID: String?
    /// `refunded_at`, RFC 3339.
    var refundedAt: String
}

extension SandboxRefundRequest {
    /// Validates a parsed body on its own (the conversion's remaining amount and currency are checked by the
    /// ledger); returns every field error at once.
    static func validate(_ body: JSONValue) -> Result<SandboxRefundRequest, ValidationFailure> {
        var validator: Validator
        switch Validator.of(body) {
        case .success(let started): validator = started
        case .failure(let failure): return .failure(failure)
        }
        let currency = validator.currency("currency", required: true)
        var amountMinorUnits: Int64?
        if let amount = validator.number("amount", required: false) {
            if !(amount > 0) {
                validator.fail(
                    "amount",
                    "must be greater than 0 (major units, 9.99 = $9.99; omit it for a full refund); got "
                        + JSONWriter.format(amount))
            } else if let code = currency {
                switch Money.minorUnits(of: amount, currency: code, rounding: false) {
                case .success(let minor):
                    amountMinorUnits = minor
                case .failure(.tooLarge):
                    validator.fail(
                        "amount",
                        "must be at most \(Money.maximumText(currency: code)); got \(JSONWriter.format(amount))")
                case .failure:
                    validator.fail(
                        "amount",
                        "must be a whole number of \(code) minor units (\(Money.text(1, currency: code)) \(code)); got "
                            + JSONWriter.format(amount))
                }
            }
        }
        let reason = validator.string("reason")
        let externalEventID = validator.string("external_event_id", maximumLength: 255)
        let refundedAt = validator.string("refunded_at", required: true)
        if let refundedAt, !RFC3339.isValid(refundedAt) {
            validator.fail("refunded_at", "must be an RFC 3339 time like 2026-01-31T12:00:00Z; got \"\(refundedAt)\"")
        }
        guard validator.errors.isEmpty, let currency, let refundedAt else {
            return .failure(ValidationFailure(errors: validator.errors))
        }
        return .success(
            SandboxRefundRequest(
                amountMinorUnits: amountMinorUnits,
                currency: currency,
                reason: reason,
                externalEventID: externalEventID,
                refundedAt: refundedAt
            )
        )
    }
}
