import Foundation

// MARK: - AffonsoEvent

/// One event for `POST /v1/events`, with the exact wire names of docs/affonso.md.
///
/// Fields that are `nil` are omitted from the JSON body. The relay usually does not build this type: the rules
/// engine produces the JSON object itself and the relay sends those bytes with
/// ``AffonsoClient/send(body:externalEventID:)``. This type is for callers that build events in Swift (tests,
/// the benchmark, probes) and for reading bodies back.
public struct AffonsoEvent: Sendable, Hashable, Codable {
    /// `event_name`: required, non-empty.
    public var eventName: String
    /// `event_type`: `conversion`, `lead`, `trial` or `milestone`; the API defaults to `milestone`.
    public var eventType: EventType?
    /// `referral_id`: a referral identifier.
    public var referralID: String?
    /// `customer_id`: the customer ID in the payment provider, e.g. Stripe `cus_…`.
    public var customerID: String?
    /// `external_user_id`: the user ID in the customer's own app.
    public var externalUserID: String?
    /// `click_id`: a click returned by `POST /v1/clicks`.
    public var clickID: String?
    /// `external_event_id`: the idempotency key; required for conversions. A retry must send the same value.
    public var externalEventID: String?
    /// `occurred_at`: RFC 3339 time the upstream event happened.
    public var occurredAt: String?
    /// `sale_amount`: positive, in major units (99.00 = $99); required for conversions.
    public var saleAmount: Double?
    /// `sale_amount_currency`: three-letter ISO 4217 code; required for conversions.
    public var saleAmountCurrency: String?
    /// `product_ids`: for conversion incentive matching.
    public var productIDs: [String]?
    /// `price_ids`: for conversion incentive matching.
    public var priceIDs: [String]?
    /// `interval`: `monthly` or `yearly`.
    public var interval: String?
    /// `is_subscription`.
    public var isSubscription: Bool?
    /// `metadata`: an object stored with the event log or earning.
    public var metadata: JSONValue?

    /// Creates an event; set the other fields as needed.
    public init(eventName: String, eventType: EventType? = nil) {
        self.eventName = eventName
        self.eventType = eventType
    }

    enum CodingKeys: String, CodingKey {
        case eventName = "event_name"
        case eventType = "event_type"
        case referralID = "referral_id"
        case customerID = "customer_id"
        case externalUserID = "external_user_id"
        case clickID = "click_id"
        case externalEventID = "external_event_id"
        case occurredAt = "occurred_at"
        case saleAmount = "sale_amount"
        case saleAmountCurrency = "sale_amount_currency"
        case productIDs = "product_ids"
        case priceIDs = "price_ids"
        case interval
        case isSubscription = "is_subscription"
        case metadata
    }

    /// The JSON body for this event (absent fields omitted, keys sorted).
    ///
    /// - Throws: ``AffonsoError`` with code `.invalidEvent` when a number is not finite (NaN or infinity).
    public func jsonBody() throws(AffonsoError) -> [UInt8] {
        try Self.encodedBody(self, naming: "event '\(eventName)'")
    }

    /// `value` as compact JSON with sorted keys.
    /// - Throws: ``AffonsoError`` with code `.invalidEvent` naming `what` when a number is NaN or infinite.
    static func encodedBody(_ value: some Encodable, naming what: String) throws(AffonsoError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw AffonsoError(
                code: .invalidEvent,
                message: "\(what) cannot be encoded as JSON (a number is NaN or infinite): \(error)",
                underlying: error
            )
        }
    }
}

// MARK: - EventType

extension AffonsoEvent {
    /// The `event_type` of an event.
    public struct EventType: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The wire value.
        public var rawValue: String

        /// An event type by wire value; the API accepts only the four static members.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A purchase: creates a commission. Needs `sale_amount`, `sale_amount_currency`, `external_event_id`.
        public static let conversion = EventType(rawValue: "conversion")
        /// A sign-up.
        public static let lead = EventType(rawValue: "lead")
        /// A trial start.
        public static let trial = EventType(rawValue: "trial")
        /// Any other milestone (the API's default).
        public static let milestone = EventType(rawValue: "milestone")

        public var description: String { rawValue }

        public init(from decoder: any Decoder) throws {
            self.rawValue = try decoder.singleValueContainer().decode(String.self)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
    }
}
