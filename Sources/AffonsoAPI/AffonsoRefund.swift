// MARK: - AffonsoRefund

/// One refund for `POST /v1/conversions/{id}/refund`, with the wire names of docs/affonso.md ("Refunds").
///
/// `nil` fields are omitted from the JSON body. Like ``AffonsoEvent``, the relay usually sends bytes the rules
/// engine produced (``AffonsoClient/sendRefund(conversionID:body:externalEventID:)``); this type is for callers
/// that build refunds in Swift and for reading bodies back.
public struct AffonsoRefund: Sendable, Hashable, Codable {
    /// `amount`: positive, in major units of ``currency`` (9.99 = $9.99); `nil` refunds what remains.
    public var amount: Double?
    /// `currency`: the conversion's three-letter ISO 4217 code.
    public var currency: String
    /// `reason`: free text, e.g. `requested_by_customer`, `dispute`.
    public var reason: String?
    /// `external_event_id`: the refund's idempotency key (e.g. the Stripe refund or dispute id). A retry must send
    /// the same value; Affonso answers a repeat with the first result.
    public var externalEventID: String
    /// `refunded_at`: RFC 3339 time of the refund.
    public var refundedAt: String

    /// Creates a refund.
    /// - Parameters:
    ///   - currency: the conversion's ISO 4217 code.
    ///   - externalEventID: the refund's idempotency key.
    ///   - refundedAt: RFC 3339 time of the refund.
    ///   - amount: major units; `nil` for a full refund of what remains.
    ///   - reason: optional free text.
    public init(
        currency: String, externalEventID: String, refundedAt: String, amount: Double? = nil, reason: String? = nil
    ) {
        self.currency = currency
        self.externalEventID = externalEventID
        self.refundedAt = refundedAt
        self.amount = amount
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case amount, currency, reason
        case externalEventID = "external_event_id"
        case refundedAt = "refunded_at"
    }

    /// The JSON body for this refund (absent fields omitted, keys sorted).
    ///
    /// - Throws: ``AffonsoError`` with code `.invalidEvent` (class `validation`) when `amount` is NaN or infinite.
    public func jsonBody() throws(AffonsoError) -> [UInt8] {
        try AffonsoEvent.encodedBody(self, naming: "refund '\(externalEventID)'")
    }
}
