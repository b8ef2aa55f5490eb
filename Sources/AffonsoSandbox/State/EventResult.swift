/// What `POST /v1/events` answered for an accepted event; stored so a replay answers the same.
enum EventResult: Sendable {
    /// A `conversion` created a commission.
    case commission(Commission)
    /// A `lead`, `trial` or `milestone` event was processed.
    case processed(Processed)

    struct Commission: Sendable {
        var id: String
        var referralID: String
        var affiliateID: String
        /// `sale_amount` in minor units of ``saleAmountCurrency`` (``Money``).
        var saleMinorUnits: Int64
        var saleAmountCurrency: String
        /// `commission_amount` in minor units of ``saleAmountCurrency``.
        var commissionMinorUnits: Int64
        var status: String
        var externalEventID: String?
        var createdAt: String
    }

    struct Processed: Sendable {
        var referralID: String
        var eventName: String
        var eventType: String
        var externalEventID: String?
        var action: String
        var referralStatus: String
    }

    var referralID: String {
        switch self {
        case .commission(let commission): commission.referralID
        case .processed(let processed): processed.referralID
        }
    }

    /// The `data` object of the success envelope (docs/affonso.md).
    func writeData(to writer: inout JSONWriter) {
        switch self {
        case .commission(let commission):
            writer.object { object in
                object.field("id", commission.id)
                object.field("referral_id", commission.referralID)
                object.field("affiliate_id", commission.affiliateID)
                object.field("sale_amount", money: commission.saleMinorUnits, currency: commission.saleAmountCurrency)
                object.field("sale_amount_currency", commission.saleAmountCurrency)
                object.field(
                    "commission_amount", money: commission.commissionMinorUnits, currency: commission.saleAmountCurrency
                )
                object.field("commission_currency", commission.saleAmountCurrency)
                object.field("status", commission.status)
                object.field("external_event_id", commission.externalEventID)
                object.field("created_at", commission.createdAt)
            }
        case .processed(let processed):
            writer.object { object in
                object.field("referral_id", processed.referralID)
                object.field("transaction_id", nil as String?)
                object.field("event_name", processed.eventName)
                object.field("event_type", processed.eventType)
                object.field("external_event_id", processed.externalEventID)
                object.field("action", processed.action)
                object.field("referral_status", processed.referralStatus)
            }
        }
    }
}
