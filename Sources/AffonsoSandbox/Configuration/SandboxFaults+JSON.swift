extension SandboxFaults {
    struct UpdateFailure: Error {
        var message: String
    }

    /// The fields `POST /_sandbox/faults` accepts; each is optional, absent ones keep their value.
    static let updateFields = [
        "clear", "error_rate", "timeout_rate", "timeout_hold_ms", "latency_ms", "latency_jitter_ms", "rate_limit_next",
        "rate_limit_for_ms", "rate_limit_retry_after_ms", "outage_after_ms", "outage_for_ms",
    ]

    /// Applies a `POST /_sandbox/faults` body. `"clear": true` starts from no faults; `null` turns off
    /// an optional fault (`rate_limit_for_ms`, `outage_after_ms`, `outage_for_ms`).
    static func updating(
        _ current: SandboxFaults, with fields: [String: JSONValue]
    ) -> Result<
        SandboxFaults, UpdateFailure
    > {
        if let unknown = fields.keys.sorted().first(where: { !updateFields.contains($0) }) {
            return .failure(
                UpdateFailure(
                    message: "unknown fault setting `\(unknown)`; allowed: \(updateFields.joined(separator: ", "))"
                )
            )
        }
        var faults = current
        if case .bool(true)? = fields["clear"] { faults = .none }
        func number(_ name: String, range: ClosedRange<Double>) throws(UpdateFailure) -> Double? {
            switch fields[name] {
            case nil: return nil
            case .number(let value)? where range.contains(value): return value
            case let other?:
                throw UpdateFailure(
                    message: "`\(name)` must be a number from \(JSONWriter.format(range.lowerBound)) to "
                        + "\(JSONWriter.format(range.upperBound)), got \(other.shortDescription)"
                )
            }
        }
        func duration(_ name: String) throws(UpdateFailure) -> Duration? {
            try number(name, range: 0...86_400_000).map { .microseconds(Int64(($0 * 1000).rounded())) }
        }
        func optionalDuration(
            _ name: String, _ keyPath: WritableKeyPath<SandboxFaults, Duration?>
        )
            throws(UpdateFailure)
        {
            if case .null? = fields[name] {
                faults[keyPath: keyPath] = nil
            } else if let value = try duration(name) {
                faults[keyPath: keyPath] = value
            }
        }
        do throws(UpdateFailure) {
            if let value = try number("error_rate", range: 0...1) { faults.errorRate = value }
            if let value = try number("timeout_rate", range: 0...1) { faults.timeoutRate = value }
            if let value = try duration("timeout_hold_ms") { faults.timeoutHold = value }
            if let value = try duration("latency_ms") { faults.latency = value }
            if let value = try duration("latency_jitter_ms") { faults.latencyJitter = value }
            if let value = try number("rate_limit_next", range: 0...1_000_000_000) {
                guard value.rounded() == value else {
                    throw UpdateFailure(message: "`rate_limit_next` must be a whole number of requests")
                }
                faults.rateLimitNext = Int(value)
            }
            try optionalDuration("rate_limit_for_ms", \.rateLimitFor)
            if let value = try duration("rate_limit_retry_after_ms") { faults.rateLimitRetryAfter = value }
            try optionalDuration("outage_after_ms", \.outageAfter)
            try optionalDuration("outage_for_ms", \.outageFor)
        } catch {
            return .failure(error)
        }
        return .success(faults)
    }
}
