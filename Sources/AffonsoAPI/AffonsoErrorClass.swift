// MARK: - AffonsoErrorClass

/// The failure classes (docs/affonso.md) that an Affonso response or transport failure can have, plus the two
/// the relay treats specially: `credentials` (401/403: stop, never dead-letter) and `rate_limited` (429: wait
/// for the shared gate, not an attempt).
///
/// The raw value is label-safe (lowercase, `[a-z0-9_]`) and is what the relay writes to
/// `affonso-relay.error.class` and metrics labels.
public struct AffonsoErrorClass: Sendable, Hashable, CustomStringConvertible {
    /// The wire and label value, e.g. `api_5xx`.
    public let rawValue: String

    private init(_ rawValue: String) { self.rawValue = rawValue }

    /// A 5xx response: transient, retry.
    public static let api5xx = AffonsoErrorClass("api_5xx")
    /// No response within the configured timeout (or a 408): transient, retry.
    public static let timeout = AffonsoErrorClass("timeout")
    /// The connection could not be made or broke (refused, reset, DNS, TLS): transient, retry.
    public static let connection = AffonsoErrorClass("connection")
    /// 404: no referral matched the identifiers; retry tiers by default (the referral may appear later).
    public static let referralNotFound = AffonsoErrorClass("referral_not_found")
    /// 404 to a refund: Affonso knows no conversion with that id; retry tiers like `referral_not_found` (the
    /// conversion may not be known yet), then dead letter.
    public static let conversionNotFound = AffonsoErrorClass("conversion_not_found")
    /// 400/422: the body was rejected; dead letter.
    public static let validation = AffonsoErrorClass("validation")
    /// 409: the identifiers resolve to different referrals; dead letter.
    public static let identifierMismatch = AffonsoErrorClass("identifier_mismatch")
    /// Any other 4xx (or 3xx, or an unusable request): dead letter.
    public static let clientError = AffonsoErrorClass("client_error")
    /// 401/403, or an unreadable key file: stop delivering, never dead-letter.
    public static let credentials = AffonsoErrorClass("credentials")
    /// 429: wait for `Retry-After` and send again; not a failed attempt.
    public static let rateLimited = AffonsoErrorClass("rate_limited")
    /// The client's configuration is invalid (thrown when the client is created).
    public static let configuration = AffonsoErrorClass("configuration")

    /// Every class, for metrics registration.
    public static let all: [AffonsoErrorClass] = [
        .api5xx, .timeout, .connection, .referralNotFound, .validation, .identifierMismatch, .clientError,
        .credentials, .rateLimited, .configuration, .conversionNotFound,
    ]

    /// Whether sending the same event again later can succeed without anyone changing it.
    public var isRetriable: Bool {
        switch self {
        case .api5xx, .timeout, .connection, .referralNotFound, .conversionNotFound, .rateLimited: true
        default: false
        }
    }

    public var description: String { rawValue }
}
