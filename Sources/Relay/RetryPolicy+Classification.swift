// MARK: - Classifying API answers

extension RetryPolicy.Failure {
    /// Classifies an answer of `POST /v1/events` by HTTP status, as AFFONSO_API.md's table says: 400/422
    /// `validation`, 401/403 credentials, 404 `referral_not_found`, 409 `identifier_mismatch`, 429 rate limit,
    /// other 4xx `client_error`, 5xx `api_5xx`.
    ///
    /// - Parameters:
    ///   - status: The HTTP status.
    ///   - retryAfter: The 429's `Retry-After`, if any.
    /// - Returns: `nil` for 2xx; any other unexpected status (1xx, 3xx) counts as `client_error`.
    public static func httpStatus(_ status: Int, retryAfter: Duration? = nil) -> RetryPolicy.Failure? {
        switch status {
        case 200..<300: nil
        case 401, 403: .credentials(status: status)
        case 429: .rateLimited(retryAfter: retryAfter)
        case 400, 422: .failed(.validation)
        case 404: .failed(.referralNotFound)
        case 409: .failed(.identifierMismatch)
        case 500..<600: .failed(.api5xx)
        default: .failed(.clientError)
        }
    }

    /// Whether the failure means the API answered (anything but a 5xx, timeout or connection failure), for the
    /// ``OutageDetector``.
    public var outageOutcome: OutageDetector.Outcome {
        if case .failed(let errorClass) = self, errorClass.isTransient {
            return .transientFailure
        }
        return .answered
    }
}
