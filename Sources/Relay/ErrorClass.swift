// MARK: - ErrorClass

/// Why a record failed, as SPEC.md §6 names it: the value of the
/// `affonso-relay.error.class` header and of the `class` metrics label.
public struct ErrorClass: Sendable, Hashable, CustomStringConvertible {
    private enum Base: String, CaseIterable, Sendable {
        case api5xx = "api_5xx"
        case timeout
        case connection
        case referralNotFound = "referral_not_found"
        case validation
        case identifierMismatch = "identifier_mismatch"
        case clientError = "client_error"
        case mapping
        case decode
        case recordTooLarge = "record_too_large"
        case ruleRemoved = "rule_removed"
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// Parses a class name as it appears in headers and configuration (`api_5xx`, `decode`, …).
    ///
    /// - Parameter rawValue: The class name; returns `nil` when it is not one of SPEC.md §6's classes.
    public init?(rawValue: String) {
        guard let base = Base(rawValue: rawValue) else { return nil }
        self.base = base
    }

    /// The class name: `api_5xx`, `timeout`, … Safe as a metrics label.
    public var rawValue: String { self.base.rawValue }

    public var description: String { self.base.rawValue }

    /// The API answered 5xx.
    public static let api5xx = ErrorClass(.api5xx)
    /// The request timed out.
    public static let timeout = ErrorClass(.timeout)
    /// The connection failed (refused, reset, DNS, TLS).
    public static let connection = ErrorClass(.connection)
    /// The API found no referral for the event's identifiers (404).
    public static let referralNotFound = ErrorClass(.referralNotFound)
    /// The event broke the API contract (400/422, or the relay's own validation before sending).
    public static let validation = ErrorClass(.validation)
    /// The event's identifiers resolve to different referrals (409).
    public static let identifierMismatch = ErrorClass(.identifierMismatch)
    /// Any other 4xx that is neither a credentials fault nor a rate limit.
    public static let clientError = ErrorClass(.clientError)
    /// A rule's CEL expression failed on the record.
    public static let mapping = ErrorClass(.mapping)
    /// The record's value is not valid JSON.
    public static let decode = ErrorClass(.decode)
    /// The record is larger than `kafka.max_record_bytes`.
    public static let recordTooLarge = ErrorClass(.recordTooLarge)
    /// A retried record names a rule that no longer exists.
    public static let ruleRemoved = ErrorClass(.ruleRemoved)

    /// Every class, in SPEC.md §6 order.
    public static let allCases: [ErrorClass] = Base.allCases.map(ErrorClass.init)

    /// Whether the failure says nothing about the record itself (5xx, timeout, connection):
    /// such failures are retried in process, and count towards "the API is down".
    public var isTransient: Bool {
        switch self.base {
        case .api5xx, .timeout, .connection: true
        default: false
        }
    }
}
