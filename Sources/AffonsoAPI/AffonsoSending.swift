// MARK: - AffonsoSending

/// What the relay needs from an Affonso client: send one pre-encoded event or refund and learn its outcome.
///
/// ``AffonsoClient`` is the real implementation; tests of the relay can supply a fake.
public protocol AffonsoSending: Sendable {
    /// Sends one pre-encoded JSON event and reports its outcome with timings.
    ///
    /// - Parameters:
    ///   - body: a JSON object with the fields of docs/affonso.md.
    ///   - externalEventID: the body's `external_event_id`, for log lines, and to decide whether a 2xx whose body
    ///     cannot be read may be sent again (only with one).
    /// - Returns: the outcome with its timings; API and transport failures are outcomes, not errors.
    /// - Throws: `CancellationError` only, when the calling task is cancelled.
    func sendMeasured(body: [UInt8], externalEventID: String?) async throws(CancellationError) -> AffonsoSendResult

    /// Sends one pre-encoded JSON refund to `POST /v1/conversions/{conversionID}/refund` and reports its outcome
    /// with timings.
    ///
    /// A default implementation answers `.failed` with class `client_error` without sending anything, so fakes
    /// written for events only keep compiling; ``AffonsoClient`` sends.
    ///
    /// - Parameters:
    ///   - conversionID: the conversion's Affonso id (`com_…`, ``AffonsoDelivery/conversionID`` of its delivery).
    ///   - body: a JSON object with the refund fields of docs/affonso.md (``AffonsoRefund``).
    ///   - externalEventID: the body's `external_event_id` (the refund's idempotency key), for log lines and to
    ///     decide whether a 2xx whose body cannot be read may be sent again (only with one).
    /// - Returns: the outcome with its timings; API and transport failures are outcomes, not errors.
    /// - Throws: `CancellationError` only, when the calling task is cancelled.
    func sendRefund(
        conversionID: String, body: [UInt8], externalEventID: String?
    ) async throws(CancellationError) -> AffonsoSendResult
}

extension AffonsoSending {
    public func sendRefund(
        conversionID: String, body: [UInt8], externalEventID: String?
    ) async throws(CancellationError) -> AffonsoSendResult {
        AffonsoSendResult(
            outcome: .failed(
                AffonsoError(
                    code: .clientError,
                    message: "\(type(of: self)) cannot send refunds (refund of conversion \(conversionID) not sent)"
                )),
            rateLimitWait: .zero,
            requestDuration: .zero,
            requests: 0
        )
    }
}

extension AffonsoClient: AffonsoSending {}
