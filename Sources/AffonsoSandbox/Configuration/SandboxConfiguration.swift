/// Everything an `AffonsoSandboxServer` needs.
public struct SandboxConfiguration: Sendable, Hashable {
    /// Address to listen on.
    /// Default: "127.0.0.1"
    public var host: String = "127.0.0.1"
    /// Port to listen on; 0 picks a free port (learn it from `AffonsoSandboxServer.waitUntilListening()`).
    /// Default: 0
    public var port: Int = 0
    /// Rate limits.
    /// Default: `.unlimited`
    public var plan: SandboxPlan = .unlimited
    /// Accepted keys.
    /// Default: one key `sk_test_sandbox` with `write:commissions`
    public var apiKeys: [SandboxAPIKey] = [.defaultKey]
    /// Referrals events can match.
    /// Default: none
    public var referrals: [SandboxReferral] = []
    /// Commission rate (0…1) of affiliates without their own rate.
    /// Default: 0.30
    public var defaultCommissionRate: Double = 0.30
    /// Commission rate by affiliate id.
    /// Default: empty
    public var commissionRates: [String: Double] = [:]
    /// Largest accepted request body; larger ones get 413.
    /// Default: 64 KiB
    public var maximumBodySize: Int = 64 * 1024
    /// Faults in effect from the start; `POST /_sandbox/reset` returns to these.
    /// Default: `.none`
    public var faults: SandboxFaults = .none

    public init() {}
}
