// MARK: - AffonsoError

/// The one error type of the AffonsoAPI module: a failed delivery, or a configuration the client refuses.
///
/// `message` says what was wrong and what to do; it never contains the API key. ``errorClass`` is what the relay
/// decides on (retry, dead letter, stop), ``shortDescription`` is safe as a metrics label.
public struct AffonsoError: Error, Sendable, CustomStringConvertible {
    /// What kind of error this is.
    public var code: Code
    /// A human explanation: what was wrong, where, and what to do.
    public var message: String
    /// The HTTP status of the response, when there was one.
    public var status: Int?
    /// The `error.code` of the response envelope, when there was one (e.g. `VALIDATION_ERROR`).
    public var apiErrorCode: String?
    /// How long to wait before sending again (429 `Retry-After`).
    public var retryAfter: Duration?
    /// The error that caused this one (a transport error), if any.
    public var underlying: (any Error)?
    /// The source file that created the error.
    public var file: String
    /// The source line that created the error.
    public var line: Int

    /// Creates an error.
    public init(
        code: Code,
        message: String,
        status: Int? = nil,
        apiErrorCode: String? = nil,
        retryAfter: Duration? = nil,
        underlying: (any Error)? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.status = status
        self.apiErrorCode = apiErrorCode
        self.retryAfter = retryAfter
        self.underlying = underlying
        self.file = file
        self.line = line
    }

    /// The error class (docs/affonso.md) of this failure.
    public var errorClass: AffonsoErrorClass { code.errorClass }

    /// Whether sending the same event again later can succeed without anyone changing it.
    public var isRetriable: Bool { errorClass.isRetriable }

    /// A short, label-safe description (`[a-z0-9_]`), e.g. `validation` or `api_5xx`.
    public var shortDescription: String { errorClass.rawValue }

    public var description: String {
        // Users read this (logs, command errors): the message, never the Swift type name.
        var text = message
        if let status { text += " (HTTP \(status)" + (apiErrorCode.map { ", \($0)" } ?? "") + ")" }
        return text
    }
}

// MARK: - Code

extension AffonsoError {
    /// The kind of an ``AffonsoError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case validation, referralNotFound, conversionNotFound, identifierMismatch, unauthorized, forbidden
            case rateLimited
            case clientError, serverError, timeout, connection
            case apiKeyUnavailable, insecureURL, invalidConfiguration, invalidEvent
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// 400/422: the API rejected the body.
        public static let validation = Code(.validation)
        /// 404: no referral matched the identifiers.
        public static let referralNotFound = Code(.referralNotFound)
        /// 404 to a refund: no conversion has the id.
        public static let conversionNotFound = Code(.conversionNotFound)
        /// 409: the identifiers resolve to different referrals.
        public static let identifierMismatch = Code(.identifierMismatch)
        /// 401: the API key is missing or wrong.
        public static let unauthorized = Code(.unauthorized)
        /// 403: the API key lacks the `write:commissions` permission.
        public static let forbidden = Code(.forbidden)
        /// 429: over the plan's rate limit.
        public static let rateLimited = Code(.rateLimited)
        /// Another 3xx/4xx response.
        public static let clientError = Code(.clientError)
        /// A 5xx response.
        public static let serverError = Code(.serverError)
        /// No complete response within the timeout.
        public static let timeout = Code(.timeout)
        /// The connection failed (refused, reset, DNS, TLS).
        public static let connection = Code(.connection)
        /// The API key file cannot be read or is empty.
        public static let apiKeyUnavailable = Code(.apiKeyUnavailable)
        /// `http://` to a host that is not loopback, without `allow_insecure_http`.
        public static let insecureURL = Code(.insecureURL)
        /// Another invalid setting (base URL, limits, timeouts).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The event or refund cannot be encoded (a non-finite number), or a refund names no conversion.
        public static let invalidEvent = Code(.invalidEvent)

        /// The error class (docs/affonso.md) of errors with this code.
        public var errorClass: AffonsoErrorClass {
            switch base {
            case .validation, .invalidEvent: .validation
            case .referralNotFound: .referralNotFound
            case .conversionNotFound: .conversionNotFound
            case .identifierMismatch: .identifierMismatch
            case .unauthorized, .forbidden, .apiKeyUnavailable: .credentials
            case .rateLimited: .rateLimited
            case .clientError: .clientError
            case .serverError: .api5xx
            case .timeout: .timeout
            case .connection: .connection
            case .insecureURL, .invalidConfiguration: .configuration
            }
        }

        public var description: String { base.rawValue }
    }
}
