/// The faults in effect and their running counters. Lives in a `Mutex`; `decide` is called once
/// per `POST /v1/events`.
struct FaultState: Sendable {
    /// What to do to one request before it is processed.
    struct Plan: Sendable {
        enum Action: Sendable {
            case none
            /// 503 for the rest of the outage.
            case outage
            /// 429 with this `Retry-After` in seconds.
            case rateLimit(retryAfter: Int)
            /// Hold the request this long, then 504.
            case timeout(hold: Duration)
            /// 500.
            case error
        }

        var delay: Duration?
        var action: Action
    }

    private(set) var faults: SandboxFaults
    /// Wall-clock seconds when the current faults were set.
    private var setAt: Double
    private var rateLimitNextRemaining: Int

    init(faults: SandboxFaults, now: Double) {
        self.faults = faults
        self.setAt = now
        self.rateLimitNextRemaining = faults.rateLimitNext
    }

    /// Replaces the faults; time-based faults (outage, 429 window) count from `now`.
    mutating func set(_ faults: SandboxFaults, now: Double) {
        self = FaultState(faults: faults, now: now)
    }

    var isQuiet: Bool {
        self.faults == .none && self.rateLimitNextRemaining == 0
    }

    mutating func decide(now: Double) -> Plan {
        if self.isQuiet { return Plan(delay: nil, action: .none) }
        var plan = Plan(delay: self.latency(), action: .none)
        if let outage = self.outageWindow(), outage.contains(now) {
            plan.action = .outage
        } else if let window = self.faults.rateLimitFor, now < self.setAt + window.seconds {
            plan.action = .rateLimit(retryAfter: max(1, Int((self.setAt + window.seconds - now).rounded(.up))))
        } else if self.rateLimitNextRemaining > 0 {
            self.rateLimitNextRemaining -= 1
            plan.action = .rateLimit(retryAfter: max(1, Int(self.faults.rateLimitRetryAfter.seconds.rounded(.up))))
        } else if self.faults.timeoutRate > 0, Double.random(in: 0..<1) < self.faults.timeoutRate {
            plan.action = .timeout(hold: self.faults.timeoutHold)
        } else if self.faults.errorRate > 0, Double.random(in: 0..<1) < self.faults.errorRate {
            plan.action = .error
        }
        return plan
    }

    /// Wall-clock seconds of the outage, if one is configured.
    func outageWindow() -> Range<Double>? {
        guard let duration = self.faults.outageFor, duration > .zero else { return nil }
        let start = self.setAt + (self.faults.outageAfter ?? .zero).seconds
        return start..<(start + duration.seconds)
    }

    /// The state for `GET /_sandbox/faults`.
    func write(to writer: inout JSONWriter, now: Double) {
        writer.object { object in
            object.field("error_rate", self.faults.errorRate)
            object.field("timeout_rate", self.faults.timeoutRate)
            object.field("timeout_hold_ms", self.faults.timeoutHold.milliseconds)
            object.field("latency_ms", self.faults.latency.milliseconds)
            object.field("latency_jitter_ms", self.faults.latencyJitter.milliseconds)
            object.field("rate_limit_next", self.rateLimitNextRemaining)
            object.key("rate_limit_for_ms")
            if let window = self.faults.rateLimitFor { object.number(window.milliseconds) } else { object.null() }
            object.field("rate_limit_retry_after_ms", self.faults.rateLimitRetryAfter.milliseconds)
            object.key("outage_after_ms")
            if let after = self.faults.outageAfter { object.number(after.milliseconds) } else { object.null() }
            object.key("outage_for_ms")
            if let duration = self.faults.outageFor { object.number(duration.milliseconds) } else { object.null() }
            let outage = self.outageWindow()
            object.field("outage_active", outage?.contains(now) ?? false)
            object.key("outage_starts_at")
            if let outage {
                object.string(RFC3339.format(unixMilliseconds: Int64(outage.lowerBound * 1000)))
            } else {
                object.null()
            }
            object.key("outage_ends_at")
            if let outage {
                object.string(RFC3339.format(unixMilliseconds: Int64(outage.upperBound * 1000)))
            } else {
                object.null()
            }
            let rateLimitUntil = self.faults.rateLimitFor.map { self.setAt + $0.seconds }
            object.field("rate_limit_window_active", rateLimitUntil.map { now < $0 } ?? false)
        }
    }

    private func latency() -> Duration? {
        let mean = self.faults.latency.seconds
        let jitter = self.faults.latencyJitter.seconds
        guard mean > 0 || jitter > 0 else { return nil }
        let value = jitter > 0 ? mean + Double.random(in: -jitter...jitter) : mean
        return value > 0 ? .milliseconds(Int64((value * 1000).rounded())) : nil
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    var milliseconds: Double { self.seconds * 1000 }
}
