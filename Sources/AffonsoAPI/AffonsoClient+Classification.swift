import Foundation

// MARK: - Response classification

extension AffonsoClient {
    /// What a response is checked against, for messages and redaction.
    struct ResponseContext {
        var endpoint: String
        var keyFile: String?
        var apiKey: String
        /// What was sent: an event to `/v1/events`, or a refund of a conversion.
        var kind: RequestKind = .event
    }

    /// What a request sends, for classification and messages.
    enum RequestKind: Equatable {
        case event
        /// `POST /v1/conversions/{id}/refund` of the conversion with this Affonso id.
        case refund(conversionID: String)

        /// "the event", "the refund of conversion com_1".
        var noun: String {
            switch self {
            case .event: "the event"
            case .refund(let conversionID): "the refund of conversion \(conversionID)"
            }
        }
    }

    /// The `{"success": …, "data": …, "error": {…}}` envelope.
    struct Envelope: Decodable {
        /// Each field is read on its own: a field of an unexpected type (`"retryAfter": "soon"`, a number too
        /// large for a `Double`) is left out instead of losing the whole envelope.
        struct ErrorBody: Decodable {
            var code: String?
            var message: String?
            var retryAfter: Double?

            private enum CodingKeys: String, CodingKey { case code, message, retryAfter }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                code = try? container.decodeIfPresent(String.self, forKey: .code)
                message = try? container.decodeIfPresent(String.self, forKey: .message)
                retryAfter =
                    (try? container.decodeIfPresent(Double.self, forKey: .retryAfter))
                    ?? (try? container.decodeIfPresent(String.self, forKey: .retryAfter)).flatMap { Double($0) }
            }
        }

        var success: Bool?
        var error: ErrorBody?
    }

    /// Maps a response to its outcome: by HTTP status first, refined by the envelope's `error.code`.
    static func outcome(
        status: Int,
        body: some Collection<UInt8>,
        retryAfterHeader: String?,
        context: ResponseContext,
        now: Date = Date(),
        maximumWait: Duration = .seconds(60),
        odd: (RateLimitSignals.OddValue) -> Void = { _ in }
    ) -> AffonsoOutcome {
        if (200..<300).contains(status) {
            return .delivered(AffonsoDelivery(status: status, responseBody: Array(body)))
        }
        let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(body))

        let apiCode = envelope?.error?.code
        let serverText = redact(
            envelope?.error?.message ?? String(decoding: body.prefix(200), as: UTF8.self),
            key: context.apiKey
        )
        let detail =
            "(HTTP \(status)\(apiCode.map { " \($0)" } ?? ""): \(serverText.isEmpty ? "no message" : serverText)"
        let keyHint =
            context.keyFile.map { "the key in \($0) (affonso.api_key_file)" } ?? "affonso.api_key"
        func failure(_ code: AffonsoError.Code, _ message: String, retryAfter: Duration? = nil) -> AffonsoOutcome {
            .failed(
                AffonsoError(
                    code: code,
                    message: message,
                    status: status,
                    apiErrorCode: apiCode,
                    retryAfter: retryAfter
                ))
        }

        if case .refund(let conversionID) = context.kind {
            switch status {
            case 401, 403, 429, 408, 500..<600: break
            default:
                return refundFailure(
                    status: status, apiCode: apiCode, detail: detail, conversionID: conversionID,
                    hasEnvelope: envelope?.error != nil, endpoint: context.endpoint)
            }
        }
        switch status {
        case 401:
            return failure(.unauthorized, "Affonso refused the API key \(detail); check \(keyHint)")
        case 403:
            return failure(
                .forbidden,
                "the API key may not send \(context.kind == .event ? "events" : "refunds") \(detail); it needs the "
                    + "write:commissions permission: check "
                    + keyHint
            )
        case 429:
            let wait =
                RateLimitSignals.retryAfter(
                    header: retryAfterHeader, body: envelope?.error?.retryAfter, now: now, maximumWait: maximumWait,
                    odd: odd
                ) ?? min(.seconds(1), maximumWait)
            return failure(
                .rateLimited,
                "over the plan's rate limit \(detail); all sends pause for \(wait) (Retry-After). If this repeats, "
                    + "set affonso.plan to your Affonso plan",
                retryAfter: wait
            )
        case 500..<600:
            return failure(.serverError, "Affonso server error \(detail); transient, will be retried")
        case 408:
            return failure(.timeout, "Affonso timed out reading the request \(detail); transient, will be retried")
        default:
            break
        }

        // 3xx and other 4xx: the status class decides unless a known error.code refines it.
        switch apiCode {
        case "VALIDATION_ERROR":
            return failure(.validation, "Affonso rejected the event as invalid \(detail); fix the rule's mapping")
        case "REFERRAL_NOT_FOUND":
            return failure(.referralNotFound, "no Affonso referral matches the event's identifiers \(detail)")
        case "IDENTIFIER_MISMATCH":
            return failure(
                .identifierMismatch,
                "the event's identifiers belong to different referrals \(detail); send one identifier or fix the "
                    + "mapping"
            )
        default:
            break
        }
        switch status {
        case 400, 422:
            return failure(.validation, "Affonso rejected the event as invalid \(detail); fix the rule's mapping")
        case 404 where envelope?.error != nil:
            return failure(.referralNotFound, "no Affonso referral matches the event's identifiers \(detail)")
        case 404:
            return failure(
                .clientError,
                "POST \(context.endpoint) returned 404 without an Affonso error envelope \(detail); check "
                    + "affonso.base_url"
            )
        case 409:
            return failure(
                .identifierMismatch,
                "the event's identifiers belong to different referrals \(detail); send one identifier or fix the "
                    + "mapping"
            )
        case 300..<400:
            return failure(
                .clientError,
                "POST \(context.endpoint) was redirected \(detail); redirects are not followed, check "
                    + "affonso.base_url"
            )
        default:
            return failure(.clientError, "Affonso rejected the request \(detail)")
        }
    }

    /// A 3xx or 4xx (other than 401, 403, 408, 429) answered to a refund.
    private static func refundFailure(
        status: Int, apiCode: String?, detail: String, conversionID: String, hasEnvelope: Bool, endpoint: String
    ) -> AffonsoOutcome {
        func failure(_ code: AffonsoError.Code, _ message: String) -> AffonsoOutcome {
            .failed(AffonsoError(code: code, message: message, status: status, apiErrorCode: apiCode))
        }
        let invalid =
            "Affonso rejected the refund of conversion \(conversionID) as invalid \(detail); fix the refund rule's "
            + "mapping (amount at most what remains of the conversion, in its currency)"
        let notFound =
            "Affonso knows no conversion \(conversionID) \(detail); it may not be processed yet, so the refund is "
            + "retried"
        switch apiCode {
        case "VALIDATION_ERROR": return failure(.validation, invalid)
        case "CONVERSION_NOT_FOUND": return failure(.conversionNotFound, notFound)
        default: break
        }
        switch status {
        case 400, 422:
            return failure(.validation, invalid)
        case 404 where hasEnvelope:
            return failure(.conversionNotFound, notFound)
        case 404:
            return failure(
                .clientError,
                "POST \(endpoint) returned 404 without an Affonso error envelope \(detail); check affonso.base_url")
        case 300..<400:
            return failure(
                .clientError,
                "POST \(endpoint) was redirected \(detail); redirects are not followed, check affonso.base_url")
        default:
            return failure(.clientError, "Affonso rejected the refund of conversion \(conversionID) \(detail)")
        }
    }

    /// `text` with every occurrence of the API key replaced, in case a server echoes it.
    static func redact(_ text: String, key: String) -> String {
        guard key.count >= 4, text.contains(key) else { return text }
        return text.replacing(key, with: "[redacted]")
    }
}

// MARK: - HTTP-date

/// Parses the IMF-fixdate form of an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`) to Unix seconds; years
/// outside 1...9999 (IMF-fixdate has four digits) are unreadable, so the arithmetic never overflows.
enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    static func parse(_ text: String) -> Double? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5].uppercased() == "GMT",
            let day = Int(parts[1]), let month = months.firstIndex(of: parts[2].lowercased()),
            let year = Int(parts[3]), (1...9999).contains(year)
        else { return nil }
        let time = parts[4].split(separator: ":")
        guard time.count == 3, let hour = Int(time[0]), let minute = Int(time[1]), let second = Int(time[2]),
            (1...31).contains(day), (0..<24).contains(hour), (0..<60).contains(minute), (0...60).contains(second)
        else { return nil }
        let days = daysFromCivil(year: year, month: month + 1, day: day)
        return Double(days * 86_400 + hour * 3_600 + minute * 60 + second)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
