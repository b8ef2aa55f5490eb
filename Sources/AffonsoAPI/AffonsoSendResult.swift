// MARK: - AffonsoSendResult

/// The outcome of one send with its timings, for metrics (`rate-limit waits`, `request latency`).
public struct AffonsoSendResult: Sendable {
    /// What became of the event.
    public var outcome: AffonsoOutcome
    /// Time spent waiting for the rate limiter (zero when a slot was free).
    public var rateLimitWait: Duration
    /// Time spent in HTTP, from sending to the end of the response or the transport failure.
    public var requestDuration: Duration
    /// HTTP requests made: 2 when a rotated key file caused an immediate second try.
    public var requests: Int

    /// Creates a result.
    public init(outcome: AffonsoOutcome, rateLimitWait: Duration, requestDuration: Duration, requests: Int) {
        self.outcome = outcome
        self.rateLimitWait = rateLimitWait
        self.requestDuration = requestDuration
        self.requests = requests
    }
}
