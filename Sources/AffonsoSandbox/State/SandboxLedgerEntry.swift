/// One accepted event in the sandbox's ledger (`GET /_sandbox/ledger`).
public struct SandboxLedgerEntry: Sendable, Hashable {
    /// The event's `external_event_id`, or `nil` when it had none (such events are never deduplicated).
    public var externalEventID: String?
    public var eventName: String
    public var eventType: String
    public var referralID: String
    /// The Affonso id of the conversion (`com_…`, `data.id` of the answer): what
    /// `POST /v1/conversions/{id}/refund` takes. `nil` for other event types.
    public var commissionID: String?
    /// The commission the conversion created, before any refund.
    public var commissionAmount: Double?
    /// Referral status after the event.
    public var referralStatus: String
    /// When the sandbox first accepted it (RFC 3339).
    public var acceptedAt: String
    /// How many later requests with the same `external_event_id` got the stored response.
    public var replays: Int

    // MARK: Conversions (nil for other event types)

    /// The sale in major units, rounded to the currency's minor unit.
    public var saleAmount: Double?
    /// The sale's (and the commission's) ISO 4217 currency.
    public var saleAmountCurrency: String?
    /// `paid`, `partial_refunded` or `refunded`.
    public var salesStatus: String?
    /// The sum of the refunds accepted for the conversion, in major units.
    public var refundedAmount: Double?
    /// The commission after refunds, in major units (``Money``: in proportion to what remains of the sale).
    public var netCommissionAmount: Double?
    /// The commission after refunds in minor units of ``saleAmountCurrency`` (cents for USD): exact, for sums.
    public var netCommissionMinorUnits: Int64?
    /// ``saleAmount`` in minor units.
    public var saleMinorUnits: Int64?
    /// ``commissionAmount`` (before refunds) in minor units.
    public var commissionMinorUnits: Int64?
    /// ``refundedAmount`` in minor units.
    public var refundedMinorUnits: Int64?
    /// How many refunds were accepted for the conversion (replays not counted).
    public var refundCount: Int = 0

    /// The conversion's Affonso id (`com_…`); the same as ``commissionID``.
    public var conversionID: String? { self.commissionID }
}
