/// The plan's limits: a per-minute window that starts at its first request, and a per-second
/// token bucket for bursts. Lives in a `Mutex`.
struct RateLimitState: Sendable {
    /// Header values and the decision for one request.
    struct Decision: Sendable {
        var allowed: Bool
        var limit: Int
        var remaining: Int
        /// Unix seconds at which the minute window resets.
        var reset: Int
        /// Seconds to wait, for a 429.
        var retryAfter: Int
    }

    /// What unlimited plans report in the headers.
    static let unlimitedValue = 1_000_000_000

    private let plan: SandboxPlan
    private var windowStart: Double = -.infinity
    private var windowCount = 0
    private var tokens: Double
    private var lastRefill: Double = -.infinity

    init(plan: SandboxPlan) {
        self.plan = plan
        self.tokens = Double(plan.burstPerSecond ?? 0)
    }

    /// Takes one request from the plan if allowed.
    mutating func acquire(now: Double) -> Decision {
        self.advance(now: now)
        guard let perMinute = self.plan.requestsPerMinute else { return self.peek(now: now) }
        let reset = Int((self.windowStart + 60).rounded(.up))
        if self.windowCount >= perMinute {
            let wait = max(1, Int((self.windowStart + 60 - now).rounded(.up)))
            return Decision(allowed: false, limit: perMinute, remaining: 0, reset: reset, retryAfter: wait)
        }
        if let burst = self.plan.burstPerSecond, self.tokens < 1 {
            let wait = max(1, Int(((1 - self.tokens) / Double(burst)).rounded(.up)))
            return Decision(
                allowed: false,
                limit: perMinute,
                remaining: perMinute - self.windowCount,
                reset: reset,
                retryAfter: wait
            )
        }
        self.tokens -= 1
        self.windowCount += 1
        return Decision(
            allowed: true,
            limit: perMinute,
            remaining: perMinute - self.windowCount,
            reset: reset,
            retryAfter: 0
        )
    }

    /// The header values without taking a request.
    func peek(now: Double) -> Decision {
        guard let perMinute = self.plan.requestsPerMinute else {
            return Decision(
                allowed: true,
                limit: Self.unlimitedValue,
                remaining: Self.unlimitedValue,
                reset: Int((now + 60).rounded(.up)),
                retryAfter: 0
            )
        }
        let windowOpen = now < self.windowStart + 60
        let start = windowOpen ? self.windowStart : now
        return Decision(
            allowed: true,
            limit: perMinute,
            remaining: windowOpen ? max(0, perMinute - self.windowCount) : perMinute,
            reset: Int((start + 60).rounded(.up)),
            retryAfter: 0
        )
    }

    private mutating func advance(now: Double) {
        guard self.plan.requestsPerMinute != nil else { return }
        if now >= self.windowStart + 60 {
            self.windowStart = now
            self.windowCount = 0
        }
        if let burst = self.plan.burstPerSecond {
            let capacity = Double(burst)
            if self.lastRefill.isFinite {
                self.tokens = min(capacity, self.tokens + (now - self.lastRefill) * capacity)
            } else {
                self.tokens = capacity
            }
            self.lastRefill = now
        }
    }
}
