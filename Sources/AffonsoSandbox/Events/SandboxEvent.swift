/// A validated `POST /v1/events` body.
struct SandboxEvent: Sendable {
    enum EventType: String, Sendable, CaseIterable {
        case conversion
        case lead
        case trial
        case milestone
    }

    enum Interval: String, Sendable, CaseIterable {
        case monthly
        case yearly
    }

    var eventName: String
    var eventType: EventType
    var referralID: String?
    var customerID: String?
    var externalUserID: String?
    var clickID: String?
    var externalEventID: String?
    var occurredAt: String?
    var saleAmount: Double?
    var saleAmountCurrency: String?
    /// `sale_amount` in minor units of the currency (``Money``), rounded to the minor unit.
    var saleMinorUnits: Int64?
    var interval: Interval?
    var isSubscription: Bool?
}

/// One field-level validation failure.
struct FieldError: Sendable, Equatable {
    var field: String
    var message: String
}
