// MARK: - AffonsoSending

/// What the relay needs from an Affonso client: send one pre-encoded event and learn its outcome.
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
}

extension AffonsoClient: AffonsoSending {}
