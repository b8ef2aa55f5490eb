// MARK: - AffonsoOutcome

/// What became of one request to `POST /v1/events`: exactly one of delivered or failed.
public enum AffonsoOutcome: Sendable {
    /// A 2xx response: the event was acknowledged (possibly as an idempotent replay).
    case delivered(AffonsoDelivery)
    /// Any other response or a transport failure; ``AffonsoError/errorClass`` says what to do.
    case failed(AffonsoError)

    /// The HTTP status, when a response arrived.
    public var status: Int? {
        switch self {
        case .delivered(let delivery): delivery.status
        case .failed(let error): error.status
        }
    }

    /// The failure class, or `nil` when delivered.
    public var errorClass: AffonsoErrorClass? {
        if case .failed(let error) = self { return error.errorClass }
        return nil
    }

    /// Whether the event was acknowledged.
    public var isDelivered: Bool {
        if case .delivered = self { return true }
        return false
    }
}

// MARK: - AffonsoDelivery

/// A summary of the `data` object of a success envelope.
///
/// Conversions return a commission (``commissionID``, ``commissionAmount``); lead, trial and milestone events
/// return a processing result (``action``, ``referralStatus``). Fields the response did not carry are `nil`.
public struct AffonsoDelivery: Sendable, Hashable {
    /// The HTTP status (2xx).
    public var status: Int
    /// The referral that matched (`data.referral_id`).
    public var referralID: String?
    /// The commission created by a conversion (`data.id`).
    public var commissionID: String?
    /// The commission amount of a conversion (`data.commission_amount`).
    public var commissionAmount: Double?
    /// The commission currency of a conversion (`data.commission_currency`).
    public var commissionCurrency: String?
    /// The action taken for a non-conversion event, e.g. `referral_updated` (`data.action`).
    public var action: String?
    /// The referral status after the event, e.g. `trialing` (`data.referral_status`).
    public var referralStatus: String?
    /// The idempotency key the API recorded (`data.external_event_id`).
    public var externalEventID: String?
    /// The whole `data` object (`.null` when the body was not a success envelope).
    public var data: JSONValue

    /// Creates a delivery summary from a status and the envelope's `data` object.
    public init(status: Int, data: JSONValue) {
        self.status = status
        self.data = data
        self.referralID = data["referral_id"]?.stringValue
        self.action = data["action"]?.stringValue
        self.referralStatus = data["referral_status"]?.stringValue
        self.externalEventID = data["external_event_id"]?.stringValue
        self.commissionAmount = data["commission_amount"]?.numberValue
        self.commissionCurrency = data["commission_currency"]?.stringValue
        // A conversion object carries its own id and a commission; an event result has no `id`.
        self.commissionID = data["id"]?.stringValue
    }
}
