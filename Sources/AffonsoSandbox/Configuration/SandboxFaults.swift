/// Faults the sandbox injects into `POST /v1/events`, set by flags or `POST /_sandbox/faults`.
///
/// Order per request: outage, latency, forced 429, timeout, 5xx. A request that gets a fault
/// is not processed (nothing reaches the ledger).
public struct SandboxFaults: Sendable, Hashable {
    /// Share of requests (0…1) answered 500 `INTERNAL_ERROR`.
    /// Default: 0
    public var errorRate: Double = 0
    /// Share of requests (0…1) held for `timeoutHold` and then answered 504, so that a client's
    /// request timeout fires first.
    /// Default: 0
    public var timeoutRate: Double = 0
    /// How long a "timed out" request is held before its 504.
    /// Default: 30 seconds
    public var timeoutHold: Duration = .seconds(30)
    /// Mean added latency of every request.
    /// Default: zero
    public var latency: Duration = .zero
    /// Added latency varies uniformly within ±`latencyJitter` around `latency` (never below zero).
    /// Default: zero
    public var latencyJitter: Duration = .zero
    /// The next N requests get 429 `RATE_LIMIT_EXCEEDED` regardless of the plan.
    /// Default: 0
    public var rateLimitNext: Int = 0
    /// Every request gets 429 for this long from when the fault is set (or the server starts).
    /// Default: nil (off)
    public var rateLimitFor: Duration?
    /// `Retry-After` of forced 429s from `rateLimitNext`.
    /// Default: 1 second
    public var rateLimitRetryAfter: Duration = .seconds(1)
    /// The outage starts this long after the fault is set (or the server starts).
    /// Default: nil (no outage)
    public var outageAfter: Duration?
    /// During the outage every request gets 503 `INTERNAL_ERROR`.
    /// Default: nil (no outage)
    public var outageFor: Duration?

    public init() {}

    /// No fault at all.
    public static let none = SandboxFaults()
}
