/// An Affonso plan's documented rate limits (docs/configuration.md, "affonso").
public struct SandboxPlan: Sendable, Hashable, CustomStringConvertible {
    /// The plan name as given on the command line.
    public var name: String
    /// Requests allowed per minute; `nil` means unlimited.
    public var requestsPerMinute: Int?
    /// Requests allowed per second (burst); `nil` means unlimited.
    public var burstPerSecond: Int?

    public init(name: String, requestsPerMinute: Int?, burstPerSecond: Int?) {
        self.name = name
        self.requestsPerMinute = requestsPerMinute
        self.burstPerSecond = burstPerSecond
    }

    public static let launch = SandboxPlan(name: "launch", requestsPerMinute: 300, burstPerSecond: 10)
    public static let growth = SandboxPlan(name: "growth", requestsPerMinute: 600, burstPerSecond: 20)
    public static let elite = SandboxPlan(name: "elite", requestsPerMinute: 1_200, burstPerSecond: 40)
    public static let enterprise = SandboxPlan(name: "enterprise", requestsPerMinute: 3_000, burstPerSecond: 100)
    /// No rate limit: for benchmarks and tests that measure the relay, not the plan.
    public static let unlimited = SandboxPlan(name: "unlimited", requestsPerMinute: nil, burstPerSecond: nil)

    /// Every named plan, in order of size.
    public static let all: [SandboxPlan] = [.launch, .growth, .elite, .enterprise, .unlimited]

    /// The plan with this name (case-insensitive), or `nil`.
    public static func named(_ name: String) -> SandboxPlan? {
        all.first { $0.name == name.lowercased() }
    }

    public var description: String {
        guard let requestsPerMinute, let burstPerSecond else { return "\(self.name) (no limit)" }
        return "\(self.name) (\(requestsPerMinute)/min, burst \(burstPerSecond)/s)"
    }
}
