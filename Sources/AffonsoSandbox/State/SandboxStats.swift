/// Counters of a running sandbox (`GET /_sandbox/stats`).
public struct SandboxStats: Sendable, Hashable {
    /// Every API request answered (`POST /v1/events` and `POST /v1/conversions/{id}/refund`).
    public var requests = 0
    /// Responses by HTTP status code.
    public var byStatus: [Int: Int] = [:]
    /// Newly accepted events by `event_type` (replays not included).
    public var byEventType: [String: Int] = [:]
    /// Newly accepted events.
    public var accepted = 0
    /// Requests answered from the idempotency store (events and refunds).
    public var replays = 0
    /// 429s, from the plan or from injected faults.
    public var rateLimited = 0
    /// Faults injected by kind: `error`, `timeout`, `outage`, `rate_limit`, `latency`.
    public var faultsInjected: [String: Int] = [:]
    /// Commissions created.
    public var commissions = 0
    /// Refunds newly accepted (replays not included).
    public var refunds = 0

    public init() {}
}
