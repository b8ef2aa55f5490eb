// MARK: - RateLimit

/// A request rate: at most ``perMinute`` requests in any 60 seconds, at most ``burst`` at once.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// Requests per minute.
    public var perMinute: Int
    /// Requests that may go out back to back (the token bucket's capacity).
    public var burst: Int

    /// Creates a rate limit; both values must be positive (``AffonsoClient`` checks).
    public init(perMinute: Int, burst: Int) {
        self.perMinute = perMinute
        self.burst = burst
    }

    public var description: String { "\(perMinute)/min, burst \(burst)" }
}

// MARK: - AffonsoPlan

/// An Affonso plan, which sets the documented rate limit.
public struct AffonsoPlan: Sendable, Hashable, CustomStringConvertible {
    /// The plan's name as written in `relay.yaml` (`plan: growth`).
    public let name: String
    /// The plan's limit, or `nil` for `unlimited` (no client-side pacing; 429s still close the gate).
    public let rateLimit: RateLimit?

    private init(name: String, rateLimit: RateLimit?) {
        self.name = name
        self.rateLimit = rateLimit
    }

    /// 300 requests/minute, burst 10.
    public static let launch = AffonsoPlan(name: "launch", rateLimit: RateLimit(perMinute: 300, burst: 10))
    /// 600 requests/minute, burst 20.
    public static let growth = AffonsoPlan(name: "growth", rateLimit: RateLimit(perMinute: 600, burst: 20))
    /// 1,200 requests/minute, burst 40.
    public static let elite = AffonsoPlan(name: "elite", rateLimit: RateLimit(perMinute: 1200, burst: 40))
    /// 3,000 requests/minute, burst 100.
    public static let enterprise = AffonsoPlan(
        name: "enterprise",
        rateLimit: RateLimit(perMinute: 3000, burst: 100)
    )
    /// No client-side limit (the sandbox, benchmarks).
    public static let unlimited = AffonsoPlan(name: "unlimited", rateLimit: nil)

    /// Every plan, in order.
    public static let all: [AffonsoPlan] = [.launch, .growth, .elite, .enterprise, .unlimited]

    /// The plan called `name` (`launch`, `growth`, `elite`, `enterprise`, `unlimited`), or `nil`.
    public init?(name: String) {
        guard let plan = Self.all.first(where: { $0.name == name }) else { return nil }
        self = plan
    }

    public var description: String { name }
}

// MARK: - RateLimitScope

/// Whose requests one ``RateLimit`` covers (`affonso.rate_limit.scope`).
public struct RateLimitScope: Sendable, Hashable, CustomStringConvertible {
    enum Kind: String, Sendable, Hashable {
        case fleet, pod
    }

    let kind: Kind

    /// The members of one consumer group share the limit (one API key, many replicas): each paces to its
    /// ``FleetRateShare`` of it.
    public static let fleet = RateLimitScope(kind: .fleet)
    /// This process alone paces to the whole limit (a single replica, or a key of its own).
    public static let pod = RateLimitScope(kind: .pod)

    /// The scope called `name` (`fleet`, `pod`), or `nil`.
    public init?(name: String) {
        guard let kind = Kind(rawValue: name) else { return nil }
        self.kind = kind
    }

    private init(kind: Kind) {
        self.kind = kind
    }

    public var description: String { kind.rawValue }
}
