/// The sandbox's business state: referrals, accepted events and the idempotency store.
/// Lives in a `Mutex`; every method is short and does no I/O.
struct LedgerState: Sendable {
    private(set) var book = ReferralBook()
    private(set) var entries: [SandboxLedgerEntry] = []
    private var entryByExternalEventID: [String: Int] = [:]
    private var results: [EventResult] = []
    private var commissionSequence = 0
    private let idPrefix = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 36) + "x"
    /// Conversions by Affonso id (`com_…`), for refunds.
    private var conversions: [String: Conversion] = [:]
    private(set) var refunds: [SandboxRefundEntry] = []
    private var refundResults: [RefundResult] = []
    private var refundByExternalEventID: [String: Int] = [:]
    private var refundSequence = 0
    private let seed: [SandboxReferral]
    private let defaultCommissionRate: Double
    private let commissionRates: [String: Double]

    init(configuration: SandboxConfiguration) throws(SandboxError) {
        self.seed = configuration.referrals
        self.defaultCommissionRate = configuration.defaultCommissionRate
        self.commissionRates = configuration.commissionRates
        for referral in configuration.referrals { try self.book.add(referral) }
    }

    enum Outcome {
        case accepted(EventResult)
        case replayed(EventResult)
        case referralNotFound(String)
        case identifierMismatch(String)
    }

    /// Applies one validated event: replay, or resolve the referral, move its status and record the result.
    mutating func process(_ event: SandboxEvent, nowMilliseconds: Int64) -> Outcome {
        if let id = event.externalEventID, let index = self.entryByExternalEventID[id] {
            self.entries[index].replays += 1
            return .replayed(self.results[index])
        }
        let referralIndex: Int
        switch self.book.resolve(event) {
        case .found(let index): referralIndex = index
        case .notFound(let message): return .referralNotFound(message)
        case .mismatch(let message): return .identifierMismatch(message)
        }
        let createdAt = RFC3339.format(unixMilliseconds: nowMilliseconds)
        let result: EventResult
        switch event.eventType {
        case .conversion:
            _ = self.book.advance(referralIndex, to: .customer)
            let referral = self.book.referrals[referralIndex]
            let rate = self.commissionRates[referral.affiliateID] ?? self.defaultCommissionRate
            let sale = event.saleMinorUnits ?? 0
            result = .commission(
                EventResult.Commission(
                    id: self.nextCommissionID(),
                    referralID: referral.id,
                    affiliateID: referral.affiliateID,
                    saleMinorUnits: sale,
                    saleAmountCurrency: event.saleAmountCurrency ?? "USD",
                    commissionMinorUnits: Money.commission(sale: sale, partsPerMillion: Money.partsPerMillion(rate)),
                    status: "ready_for_payment",
                    externalEventID: event.externalEventID,
                    createdAt: createdAt
                )
            )
        case .lead, .trial, .milestone:
            let target: SandboxReferral.Status? =
                switch event.eventType {
                case .lead: .lead
                case .trial: .trialing
                default: nil
                }
            let changed = target.map { self.book.advance(referralIndex, to: $0) } ?? false
            let referral = self.book.referrals[referralIndex]
            result = .processed(
                EventResult.Processed(
                    referralID: referral.id,
                    eventName: event.eventName,
                    eventType: event.eventType.rawValue,
                    externalEventID: event.externalEventID,
                    action: changed ? "referral_updated" : "event_recorded",
                    referralStatus: referral.status.rawValue
                )
            )
        }
        var entry = SandboxLedgerEntry(
            externalEventID: event.externalEventID,
            eventName: event.eventName,
            eventType: event.eventType.rawValue,
            referralID: result.referralID,
            referralStatus: self.book.referrals[referralIndex].status.rawValue,
            acceptedAt: createdAt,
            replays: 0
        )
        if case .commission(let commission) = result {
            let currency = commission.saleAmountCurrency
            entry.commissionID = commission.id
            entry.commissionAmount = Money.major(commission.commissionMinorUnits, currency: currency)
            entry.saleAmount = Money.major(commission.saleMinorUnits, currency: currency)
            entry.saleAmountCurrency = currency
            entry.salesStatus = Self.paid
            entry.refundedAmount = 0
            entry.netCommissionAmount = entry.commissionAmount
            entry.netCommissionMinorUnits = commission.commissionMinorUnits
            entry.saleMinorUnits = commission.saleMinorUnits
            entry.commissionMinorUnits = commission.commissionMinorUnits
            entry.refundedMinorUnits = 0
            self.conversions[commission.id] = Conversion(
                entryIndex: self.entries.count, commission: commission, refundedMinorUnits: 0)
        }
        if let id = event.externalEventID { self.entryByExternalEventID[id] = self.entries.count }
        self.entries.append(entry)
        self.results.append(result)
        return .accepted(result)
    }

    mutating func addReferral(_ referral: SandboxReferral) throws(SandboxError) {
        try self.book.add(referral)
    }

    /// Back to the seed: no events, seed referrals with their seed statuses.
    mutating func reset() {
        self.book = ReferralBook()
        for referral in self.seed { try? self.book.add(referral) }
        self.entries.removeAll()
        self.results.removeAll()
        self.entryByExternalEventID.removeAll()
        self.conversions.removeAll()
        self.refunds.removeAll()
        self.refundResults.removeAll()
        self.refundByExternalEventID.removeAll()
    }

    // MARK: - Refunds

    static let paid = "paid"
    static let partialRefunded = "partial_refunded"
    static let refunded = "refunded"

    /// A conversion's money, in minor units of its currency.
    private struct Conversion {
        var entryIndex: Int
        var commission: EventResult.Commission
        var refundedMinorUnits: Int64

        var remainingMinorUnits: Int64 { self.commission.saleMinorUnits - self.refundedMinorUnits }
        var netCommissionMinorUnits: Int64 {
            Money.netCommission(
                commission: self.commission.commissionMinorUnits,
                sale: self.commission.saleMinorUnits,
                refunded: self.refundedMinorUnits
            )
        }
        var salesStatus: String {
            if self.refundedMinorUnits == 0 { return LedgerState.paid }
            return self.remainingMinorUnits > 0 ? LedgerState.partialRefunded : LedgerState.refunded
        }
    }

    enum RefundOutcome {
        case accepted(RefundResult)
        case replayed(RefundResult)
        case conversionNotFound(String)
        case invalid(String)
    }

    /// Applies one validated refund to conversion `conversionID`: replay, or check the currency and what remains,
    /// then reduce the commission in proportion (``Money``). Nothing is stored for a refused refund.
    mutating func refund(
        _ request: SandboxRefundRequest, conversionID: String, nowMilliseconds: Int64
    ) -> RefundOutcome {
        if let key = request.externalEventID, let index = self.refundByExternalEventID[key] {
            self.refunds[index].replays += 1
            return .replayed(self.refundResults[index])
        }
        guard var conversion = self.conversions[conversionID] else {
            return .conversionNotFound(
                "no conversion has id \"\(conversionID)\"; use the id (com_…) that POST /v1/events answered for the "
                    + "conversion (data.id)"
            )
        }
        let currency = conversion.commission.saleAmountCurrency
        guard request.currency == currency else {
            return .invalid(
                "invalid field currency: conversion \(conversionID) is in \(currency), the refund in "
                    + "\(request.currency); refund in the conversion's currency"
            )
        }
        let remaining = conversion.remainingMinorUnits
        guard remaining > 0 else {
            return .invalid(
                "conversion \(conversionID) is already fully refunded (\(Money.text(conversion.refundedMinorUnits, currency: currency)) "
                    + "\(currency)); nothing remains to refund"
            )
        }
        let amount = request.amountMinorUnits ?? remaining
        guard amount <= remaining else {
            return .invalid(
                "invalid field amount: \(Money.text(amount, currency: currency)) \(currency) is more than the "
                    + "\(Money.text(remaining, currency: currency)) \(currency) that remains of conversion \(conversionID) "
                    + "(sale \(Money.text(conversion.commission.saleMinorUnits, currency: currency)), refunded "
                    + "\(Money.text(conversion.refundedMinorUnits, currency: currency))); send at most what remains"
            )
        }
        let netBefore = conversion.netCommissionMinorUnits
        conversion.refundedMinorUnits += amount
        let netAfter = conversion.netCommissionMinorUnits
        self.conversions[conversionID] = conversion

        self.refundSequence += 1
        let refund = SandboxRefundEntry(
            refundID: "rfd_" + self.idPrefix + String(self.refundSequence, radix: 36),
            conversionID: conversionID,
            externalEventID: request.externalEventID,
            amount: Money.major(amount, currency: currency),
            amountMinorUnits: amount,
            currency: currency,
            commissionReversed: Money.major(netBefore - netAfter, currency: currency),
            commissionReversedMinorUnits: netBefore - netAfter,
            reason: request.reason,
            refundedAt: request.refundedAt,
            salesStatus: conversion.salesStatus,
            acceptedAt: RFC3339.format(unixMilliseconds: nowMilliseconds),
            replays: 0
        )
        let index = conversion.entryIndex
        self.entries[index].salesStatus = conversion.salesStatus
        self.entries[index].refundedAmount = Money.major(conversion.refundedMinorUnits, currency: currency)
        self.entries[index].netCommissionAmount = Money.major(netAfter, currency: currency)
        self.entries[index].netCommissionMinorUnits = netAfter
        self.entries[index].refundedMinorUnits = conversion.refundedMinorUnits
        self.entries[index].refundCount += 1
        let result = RefundResult(
            conversion: conversion.commission,
            refundedMinorUnits: conversion.refundedMinorUnits,
            netCommissionMinorUnits: netAfter,
            salesStatus: conversion.salesStatus,
            refund: refund
        )
        if let key = request.externalEventID { self.refundByExternalEventID[key] = self.refunds.count }
        self.refunds.append(refund)
        self.refundResults.append(result)
        return .accepted(result)
    }

    /// `com_` + a per-process random prefix + a sequence number: unique, and no syscall per id.
    private mutating func nextCommissionID() -> String {
        self.commissionSequence += 1
        return "com_" + self.idPrefix + String(self.commissionSequence, radix: 36)
    }
}
