/// Referrals and their lookup indexes; part of `LedgerState`.
struct ReferralBook: Sendable {
    private(set) var referrals: [SandboxReferral] = []
    private var byID: [String: Int] = [:]
    private var byCustomerID: [String: Int] = [:]
    private var byExternalUserID: [String: Int] = [:]
    private var byClickID: [String: Int] = [:]

    init() {}

    /// Adds a referral.
    /// - Throws: `SandboxError` when its id or an identifier belongs to another referral.
    mutating func add(_ referral: SandboxReferral) throws(SandboxError) {
        func taken(_ index: [String: Int], _ value: String?, _ field: String) throws(SandboxError) {
            if let value, let other = index[value] {
                throw SandboxError(
                    .conflictingReferral,
                    "referral \(referral.id): \(field) \"\(value)\" already belongs to referral "
                        + "\(self.referrals[other].id); identifiers must be unique"
                )
            }
        }
        try taken(self.byID, referral.id, "id")
        try taken(self.byCustomerID, referral.customerID, "customer_id")
        try taken(self.byExternalUserID, referral.externalUserID, "external_user_id")
        try taken(self.byClickID, referral.clickID, "click_id")
        let index = self.referrals.count
        self.referrals.append(referral)
        self.byID[referral.id] = index
        if let value = referral.customerID { self.byCustomerID[value] = index }
        if let value = referral.externalUserID { self.byExternalUserID[value] = index }
        if let value = referral.clickID { self.byClickID[value] = index }
    }

    enum Resolution {
        case found(Int)
        case notFound(String)
        case mismatch(String)
    }

    /// Finds the one referral the event's identifiers point to. Identifiers that are not known yet
    /// are linked to that referral, unless it already has a different value for them.
    mutating func resolve(_ event: SandboxEvent) -> Resolution {
        let sent: [(field: String, value: String?)] = [
            ("referral_id", event.referralID),
            ("customer_id", event.customerID),
            ("external_user_id", event.externalUserID),
            ("click_id", event.clickID),
        ]
        var matchIndex = -1
        var matchField = ""
        var matchValue = ""
        for (field, value) in sent {
            guard let value, let index = self.index(field)[value] else { continue }
            if matchIndex >= 0, matchIndex != index {
                return .mismatch(
                    "\(matchField) \"\(matchValue)\" belongs to referral \(self.referrals[matchIndex].id) but "
                        + "\(field) \"\(value)\" belongs to referral \(self.referrals[index].id); "
                        + "send identifiers of one referral"
                )
            }
            matchIndex = index
            matchField = field
            matchValue = value
        }
        guard matchIndex >= 0 else {
            let list = sent.compactMap { item in item.value.map { "\(item.field) \"\($0)\"" } }
            return .notFound(
                "no referral matches \(list.joined(separator: ", ")); check the identifiers, or create the "
                    + "referral first (click or signup tracking)"
            )
        }
        let referral = self.referrals[matchIndex]
        // An unknown referral_id never links; it must name a referral.
        if let id = event.referralID, id != referral.id {
            return .notFound(
                "no referral has referral_id \"\(id)\" (\(matchField) \"\(matchValue)\" belongs to \(referral.id))"
            )
        }
        let known: [(field: String, sent: String?, known: String?)] = [
            ("customer_id", event.customerID, referral.customerID),
            ("external_user_id", event.externalUserID, referral.externalUserID),
            ("click_id", event.clickID, referral.clickID),
        ]
        for (field, sentValue, knownValue) in known {
            if let sentValue, let knownValue, sentValue != knownValue {
                return .mismatch(
                    "\(matchField) \"\(matchValue)\" belongs to referral \(referral.id), whose \(field) is "
                        + "\"\(knownValue)\", not \"\(sentValue)\"; send identifiers of one referral"
                )
            }
        }
        if referral.customerID == nil, let value = event.customerID {
            self.referrals[matchIndex].customerID = value
            self.byCustomerID[value] = matchIndex
        }
        if referral.externalUserID == nil, let value = event.externalUserID {
            self.referrals[matchIndex].externalUserID = value
            self.byExternalUserID[value] = matchIndex
        }
        if referral.clickID == nil, let value = event.clickID {
            self.referrals[matchIndex].clickID = value
            self.byClickID[value] = matchIndex
        }
        return .found(matchIndex)
    }

    private func index(_ field: String) -> [String: Int] {
        switch field {
        case "referral_id": self.byID
        case "customer_id": self.byCustomerID
        case "external_user_id": self.byExternalUserID
        default: self.byClickID
        }
    }

    /// Moves a referral forward (lead → trialing → customer); never backwards.
    mutating func advance(_ index: Int, to status: SandboxReferral.Status) -> Bool {
        guard self.referrals[index].status < status else { return false }
        self.referrals[index].status = status
        return true
    }
}
