/// What `POST /v1/conversions/{id}/refund` answered for an accepted refund: the conversion as it stood right after
/// the refund. Stored so a replay answers the same.
struct RefundResult: Sendable {
    /// The conversion as `POST /v1/events` created it.
    var conversion: EventResult.Commission
    /// All refunds of the conversion so far, in minor units.
    var refundedMinorUnits: Int64
    /// The commission after them, in minor units.
    var netCommissionMinorUnits: Int64
    var salesStatus: String
    /// This refund.
    var refund: SandboxRefundEntry

    /// The `data` object of the success envelope (docs/affonso.md, "Refunds").
    func writeData(to writer: inout JSONWriter) {
        let currency = self.conversion.saleAmountCurrency
        writer.object { object in
            object.field("id", self.conversion.id)
            object.field("referral_id", self.conversion.referralID)
            object.field("affiliate_id", self.conversion.affiliateID)
            object.field("sale_amount", money: self.conversion.saleMinorUnits, currency: currency)
            object.field("sale_amount_currency", currency)
            object.field("refunded_amount", money: self.refundedMinorUnits, currency: currency)
            object.field("sales_status", self.salesStatus)
            object.field("commission_amount", money: self.netCommissionMinorUnits, currency: currency)
            object.field("original_commission_amount", money: self.conversion.commissionMinorUnits, currency: currency)
            object.field("commission_currency", currency)
            object.field("status", self.conversion.status)
            object.field("external_event_id", self.conversion.externalEventID)
            object.field("created_at", self.conversion.createdAt)
            object.key("refund")
            object.object { refund in
                refund.field("id", self.refund.refundID)
                refund.field("amount", money: self.refund.amountMinorUnits, currency: currency)
                refund.field("currency", currency)
                refund.field("commission_reversed", money: self.refund.commissionReversedMinorUnits, currency: currency)
                refund.field("reason", self.refund.reason)
                refund.field("external_event_id", self.refund.externalEventID)
                refund.field("refunded_at", self.refund.refundedAt)
                refund.field("created_at", self.refund.acceptedAt)
            }
        }
    }
}
