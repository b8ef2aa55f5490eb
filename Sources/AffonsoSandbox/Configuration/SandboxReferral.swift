/// A referral the sandbox can match events to (`sandbox --referrals` seed file entry).
public struct SandboxReferral: Sendable, Hashable {
    /// Referral statuses, in the only order the sandbox moves them: lead → trialing → customer.
    public enum Status: String, Sendable, Hashable, CaseIterable, Comparable {
        case lead
        case trialing
        case customer

        private var rank: Int {
            switch self {
            case .lead: 0
            case .trialing: 1
            case .customer: 2
            }
        }

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
    }

    /// `ref_…`
    public var id: String
    /// `aff_…`
    public var affiliateID: String
    /// Payment-provider customer, e.g. Stripe `cus_…`.
    public var customerID: String?
    /// The user id in the customer's own app.
    public var externalUserID: String?
    /// A click id from `POST /v1/clicks`.
    public var clickID: String?
    /// Default: `.lead`
    public var status: Status

    public init(
        id: String,
        affiliateID: String,
        customerID: String? = nil,
        externalUserID: String? = nil,
        clickID: String? = nil,
        status: Status = .lead
    ) {
        self.id = id
        self.affiliateID = affiliateID
        self.customerID = customerID
        self.externalUserID = externalUserID
        self.clickID = clickID
        self.status = status
    }
}
