/// One accepted refund in the sandbox's ledger (`GET /_sandbox/ledger`, `refunds`).
public struct SandboxRefundEntry: Sendable, Hashable {
    /// The sandbox's id of the refund (`rfd_…`).
    public var refundID: String
    /// The refunded conversion's Affonso id (`com_…`).
    public var conversionID: String
    /// The refund's `external_event_id`, or `nil` when it had none (such refunds are never deduplicated).
    public var externalEventID: String?
    /// The refunded amount in major units (what remained, when the request had no `amount`).
    public var amount: Double
    /// The refunded amount in minor units of ``currency``.
    public var amountMinorUnits: Int64
    public var currency: String
    /// How much commission the refund took back, in major units.
    public var commissionReversed: Double
    /// How much commission the refund took back, in minor units of ``currency``.
    public var commissionReversedMinorUnits: Int64
    public var reason: String?
    /// The request's `refunded_at`.
    public var refundedAt: String
    /// The conversion's `sales_status` after this refund: `partial_refunded` or `refunded`.
    public var salesStatus: String
    /// When the sandbox accepted it (RFC 3339).
    public var acceptedAt: String
    /// How many later requests with the same `external_event_id` got the stored response.
    public var replays: Int
}
