import Foundation

// MARK: - Refunds

extension AffonsoClient {
    /// Sends one refund of a conversion.
    ///
    /// - Parameters:
    ///   - refund: the refund; absent fields are omitted.
    ///   - conversionID: the conversion's Affonso id (`com_…`, ``AffonsoDelivery/conversionID`` of its delivery).
    /// - Returns: the outcome; never throws for API or transport failures.
    /// - Throws: `CancellationError` only, when the calling task is cancelled.
    public func sendRefund(
        _ refund: AffonsoRefund, conversionID: String
    ) async throws(CancellationError)
        -> AffonsoOutcome
    {
        let body: [UInt8]
        do {
            body = try refund.jsonBody()
        } catch {
            return .failed(error)
        }
        return try await sendRefund(conversionID: conversionID, body: body, externalEventID: refund.externalEventID)
            .outcome
    }

    /// Sends one pre-encoded JSON refund to `POST <base_url>/v1/conversions/{conversionID}/refund`, through the
    /// same rate limiter, key handling (re-read of `api_key_file` after a 401/403), transport and classification
    /// as events.
    ///
    /// How the answer is classified (docs/affonso.md, "Refunds"): 2xx `.delivered` (also a replay of the same
    /// `external_event_id`); 404 with an envelope (`CONVERSION_NOT_FOUND`) class `conversion_not_found`
    /// (retriable: the conversion may not be known yet); 400/422 `validation`; 401/403 `credentials`;
    /// 429 `rate_limited`; 5xx `api_5xx`; 408 and no answer `timeout`; connection failures `connection`;
    /// 404 without an envelope, 3xx, other 4xx `client_error`. A 2xx whose body cannot be read is `.failed`
    /// (class `connection` or `timeout`) with an `externalEventID`, so it is sent again and Affonso deduplicates;
    /// without one it is `.delivered` with ``AffonsoDelivery/isBodyUnreadable``.
    ///
    /// - Parameters:
    ///   - conversionID: the conversion's Affonso id (`com_…`); it is percent-encoded into the path. An empty id,
    ///     `.` or `..` fails with class `validation` without sending anything.
    ///   - body: a JSON object with the refund fields (``AffonsoRefund``).
    ///   - externalEventID: the body's `external_event_id`, for log lines and to decide whether a 2xx whose body
    ///     cannot be read may be sent again (only with one).
    /// - Returns: the outcome with its timings.
    /// - Throws: `CancellationError` only, when the calling task is cancelled.
    public func sendRefund(
        conversionID: String,
        body: [UInt8],
        externalEventID: String? = nil
    ) async throws(CancellationError) -> AffonsoSendResult {
        guard !conversionID.isEmpty, conversionID != ".", conversionID != ".." else {
            return AffonsoSendResult(
                outcome: .failed(
                    AffonsoError(
                        code: .invalidEvent,
                        message: "refund \(externalEventID ?? "without external_event_id") names no usable conversion "
                            + "id ('\(conversionID)'); refunds need the com_… id Affonso answered for the conversion"
                    )),
                rateLimitWait: .zero,
                requestDuration: .zero,
                requests: 0
            )
        }
        return try await sendMeasured(
            request: .refund(conversionID: conversionID), body: body, externalEventID: externalEventID)
    }

    /// The full URL a refund of `conversionID` is posted to: `<base_url>/v1/conversions/<id>/refund`, the id
    /// percent-encoded.
    public func refundEndpoint(conversionID: String) -> String {
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/v1/conversions/" + Self.percentEncoded(conversionID) + "/refund"
    }

    /// The request path of a refund of `conversionID`.
    func refundPath(conversionID: String) -> String {
        basePath + "/v1/conversions/" + Self.percentEncoded(conversionID) + "/refund"
    }

    /// The percent-encoded path of a base URL, without trailing `/`.
    static func basePath(of baseURL: String) -> String {
        var path = URLComponents(string: baseURL)?.percentEncodedPath ?? ""
        while path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// `text` with every byte except RFC 3986 unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`, so an id can never
    /// change the path or break the request line.
    static func percentEncoded(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return output
    }
}
