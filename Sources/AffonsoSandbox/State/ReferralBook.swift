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
        let lookups: [(field: String, value: String?, index: [String: Int])] = [
            ("referral_id", event.referralID, self.byID),
            ("customer_id", event.customerID, self.byCustomerID),
            ("external_user_id", event.externalUserID, self.byExternalUserID),
            ("click_id", event.clickID, self.byClickID),
        ]
        var match: (field: String, value: String, index: Int)?
        for lookup in lookups {
            guard let value = lookup.value, let index = lookup.index[value] else { continue }
            if let match, match.index != index {
                return .mismatch(
                    "\(match.field) \"\(match.value)\" belongs to referral \(self.referrals[match.index].id) but "
                        + "\(lookup.field) \"\(value)\" belongs to referral \(self.referrals[index].id); "
                        + "send identifiers of one referral"
                )
            }
            match = (lookup.field, value, index)
        }
        guard let match else {
            let sent = lookups.compactMap { lookup in lookup.value.map { "\(lookup.field) \"\($0)\"" } }
            return .notFound(
                "no referral matches \(sent.joined(separator: ", ")); check the identifiers, or create the "
                    + "referral first (click or signup tracking)"
            )
        }
        let referral = self.referrals[match.index]
        // An unknown referral_id never links; it must name a referral.
        if let id = event.referralID, id != referral.id {
            return .notFound(
                "no referral has referral_id \"\(id)\" (\(match.field) \"\(match.value)\" belongs to \(referral.id))"
            )
        }
        let links: [(field: String, sent: String?, known: String?, key: WritableKeyPath<SandboxReferral, String?>)] = [
            ("customer_id", event.customerID, referral.customerID, \.customerID),
            ("external_user_id", event.externalUserID, referral.externalUserID, \.externalUserID),
            ("click_id", event.clickID, referral.clickID, \.clickID),
        ]
        for link in links {
            if let sent = link.sent, let known = link.known, sent != known {
                return .mismatch(
                    "\(match.field) \"\(match.value)\" belongs to referral \(referral.id), whose \(link.field) is "
                        + "\"\(known)\", not \"\(sent)\"; send identifiers of one referral"
                )
            }
        }
        for link in links where link.known == nil {
            guard let sent = link.sent else { continue }
            self.referrals[match.index][keyPath: link.key] = sent
            switch link.field {
            case "customer_id": self.byCustomerID[sent] = match.index
            case "external_user_id": self.byExternalUserID[sent] = match.index
            default: self.byClickID[sent] = match.index
            }
        }
        return .found(match.index)
    }

    /// Moves a referral forward (lead → trialing → customer); never backwards.
    mutating func advance(_ index: Int, to status: SandboxReferral.Status) -> Bool {
        guard self.referrals[index].status < status else { return false }
        self.referrals[index].status = status
        return true
    }
}
