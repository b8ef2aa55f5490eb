/// The sandbox's business state: referrals, accepted events and the idempotency store.
/// Lives in a `Mutex`; every method is short and does no I/O.
struct LedgerState: Sendable {
    private(set) var book = ReferralBook()
    private(set) var entries: [SandboxLedgerEntry] = []
    private var entryByExternalEventID: [String: Int] = [:]
    private var results: [EventResult] = []
    private var commissionSequence = 0
    private let idPrefix = String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 36) + "x"
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
            let saleAmount = event.saleAmount ?? 0
            result = .commission(
                EventResult.Commission(
                    id: self.nextCommissionID(),
                    referralID: referral.id,
                    affiliateID: referral.affiliateID,
                    saleAmount: saleAmount,
                    saleAmountCurrency: event.saleAmountCurrency ?? "USD",
                    commissionAmount: (saleAmount * rate * 100).rounded() / 100,
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
            entry.commissionID = commission.id
            entry.commissionAmount = commission.commissionAmount
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
    }

    /// `com_` + a per-process random prefix + a sequence number: unique, and no syscall per id.
    private mutating func nextCommissionID() -> String {
        self.commissionSequence += 1
        return "com_" + self.idPrefix + String(self.commissionSequence, radix: 36)
    }
}
