// MARK: - ErrorClass

/// Why a record failed, as SPEC.md §6 names it: the value of the `affonso-relay.error.class` header and of the
/// `class` metrics label (`rawValue`, e.g. `api_5xx`; safe as a label). Every class, in SPEC.md §6 order, then
/// the classes added since.
public enum ErrorClass: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The API answered 5xx.
    case api5xx = "api_5xx"
    /// The request timed out.
    case timeout
    /// The connection failed (refused, reset, DNS, TLS).
    case connection
    /// The API found no referral for the event's identifiers (404).
    case referralNotFound = "referral_not_found"
    /// The event broke the API contract (400/422, or the relay's own validation before sending).
    case validation
    /// The event's identifiers resolve to different referrals (409).
    case identifierMismatch = "identifier_mismatch"
    /// Any other 4xx that is neither a credentials fault nor a rate limit.
    case clientError = "client_error"
    /// A rule's CEL expression failed on the record.
    case mapping
    /// The record's value is not valid JSON.
    case decode
    /// The record is larger than `kafka.max_record_bytes`.
    case recordTooLarge = "record_too_large"
    /// A retried record names a rule that no longer exists.
    case ruleRemoved = "rule_removed"
    /// A refund's conversion is not known (the relay has not remembered it, or the API answered 404
    /// `CONVERSION_NOT_FOUND`): it may arrive later, so it waits in the retry tiers like `referral_not_found`.
    case conversionNotFound = "conversion_not_found"

    public var description: String { rawValue }

    /// Whether the failure says nothing about the record itself (5xx, timeout, connection):
    /// such failures are retried in process, and count towards "the API is down".
    public var isTransient: Bool {
        switch self {
        case .api5xx, .timeout, .connection: true
        default: false
        }
    }
}
