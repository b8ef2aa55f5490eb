/// One accepted event in the sandbox's ledger (`GET /_sandbox/ledger`).
public struct SandboxLedgerEntry: Sendable, Hashable {
    /// The event's `external_event_id`, or `nil` when it had none (such events are never deduplicated).
    public var externalEventID: String?
    public var eventName: String
    public var eventType: String
    public var referralID: String
    /// The commission created by a conversion.
    public var commissionID: String?
    public var commissionAmount: Double?
    /// Referral status after the event.
    public var referralStatus: String
    /// When the sandbox first accepted it (RFC 3339).
    public var acceptedAt: String
    /// How many later requests with the same `external_event_id` got the stored response.
    public var replays: Int
}
