/// A field of an Affonso event as it is sent (docs/affonso.md; a rule's `affonso_id` is sent as `referral_id`),
/// known once a rule is compiled, so that mapping a record compares no field names.
///
/// The cases are in the byte order of their keys, the order of a canonical body's members: sorting an event's
/// fields is sorting their cases.
enum EventField: Int, CaseIterable, Comparable, Sendable {
    case clickID, customerID, eventName, eventType, externalEventID, externalUserID, interval, isSubscription
    case metadata, occurredAt, priceIDs, productIDs, referralID, saleAmount, saleAmountCurrency

    /// The keys, by case.
    private static let keys = [
        "click_id", "customer_id", "event_name", "event_type", "external_event_id", "external_user_id", "interval",
        "is_subscription", "metadata", "occurred_at", "price_ids", "product_ids", "referral_id", "sale_amount",
        "sale_amount_currency",
    ]

    /// Each key as a body writes it before the member's value: `"key":`.
    private static let encodedKeys = keys.map { Array("\"\($0)\":".utf8) }

    /// The field sent under `key`; nil when Affonso events have no such field.
    init?(key: String) {
        guard let index = Self.keys.firstIndex(of: key) else { return nil }
        self.init(rawValue: index)
    }

    /// The key the field is sent under.
    var key: String { Self.keys[rawValue] }

    /// `"key":`, ready to be appended to a body.
    var encodedKey: [UInt8] { Self.encodedKeys[rawValue] }

    static func < (lhs: EventField, rhs: EventField) -> Bool { lhs.rawValue < rhs.rawValue }
}
