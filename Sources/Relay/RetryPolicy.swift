import struct Foundation.Date
import struct Foundation.TimeInterval

// MARK: - RetryPolicy

/// Decides what happens after a failed delivery attempt (SPEC.md §6): retry in process after a backoff, go to a
/// retry tier, dead-letter, or wait without spending an attempt.
///
/// Attempts are counted in rounds: a source record's delivery is attempt 1, each time it is read back from a
/// retry tier is the next one. Within a round, a transient failure (`api_5xx`, `timeout`, `connection`) is tried
/// up to ``RetryConfiguration/inProcessAttempts`` times with exponential backoff and full jitter. A round that
/// fails goes to tier N for the N-th failure (the last tier repeats) until ``RetryConfiguration/maximumAttempts``
/// rounds have failed; then, or at once for classes that retrying cannot fix, the record is dead-lettered. Rate
/// limits (429), credentials faults (401/403) and failures while the API is down are not attempts.
public struct RetryPolicy: Sendable {
    /// A failed delivery attempt.
    public enum Failure: Sendable, Hashable {
        /// The attempt failed with this class.
        case failed(ErrorClass)
        /// The API answered 429; `retryAfter` is its `Retry-After`, if any.
        case rateLimited(retryAfter: Duration?)
        /// The API answered 401 or 403.
        case credentials(status: Int)
    }

    /// What to do with the record.
    public enum Decision: Sendable, Hashable {
        /// Try again in this process after the pause.
        case retryInProcess(after: Duration)
        /// Produce the record to a retry tier with this envelope's `attempt` and `not_before`.
        case retryTier(topic: String, tierIndex: Int, attempt: Int, notBefore: Date)
        /// Produce the record to the dead-letter topic with this `attempt`.
        case deadLetter(topic: String, attempt: Int)
        /// Not an attempt: wait for the shared rate-limit gate (this long, when the API said), then try again.
        case waitForRateLimit(retryAfter: Duration?)
        /// Not an attempt: hold the record until the credentials gate clears, then try again.
        case waitForCredentials
        /// Not an attempt: the API is down as a whole; hold the record until the outage detector recovers.
        case waitForRecovery
    }

    /// The settings.
    public let configuration: RetryConfiguration

    /// - Parameter configuration: The retry settings (validate them first with ``RetryConfiguration/validate()``).
    public init(configuration: RetryConfiguration) {
        self.configuration = configuration
    }

    /// Whether a class is worth retrying under this configuration.
    public func isRetriable(_ errorClass: ErrorClass) -> Bool {
        if errorClass.isTransient {
            return true
        }
        // A conversion not known yet (a refund read before its conversion was delivered) waits in the tiers too.
        if errorClass == .conversionNotFound { return true }
        return errorClass == .referralNotFound && self.configuration.referralNotFound == .retry
    }

    /// Decides what to do after a failed attempt.
    ///
    /// - Parameters:
    ///   - failure: What went wrong.
    ///   - previousAttempts: How many rounds had failed before this one: 0 for a record from a source topic, the
    ///     envelope's ``RetryEnvelope/attempt`` for a record from a retry tier.
    ///   - inProcessAttempt: Which try of this round failed, from 1.
    ///   - apiIsDown: Whether the ``OutageDetector`` says the API is down as a whole.
    ///   - now: The current wall-clock time, for `not_before`.
    ///   - generator: The random source for the backoff jitter.
    public func decide(
        _ failure: Failure,
        previousAttempts: Int,
        inProcessAttempt: Int,
        apiIsDown: Bool = false,
        now: Date,
        using generator: inout some RandomNumberGenerator
    ) -> Decision {
        let errorClass: ErrorClass
        switch failure {
        case .rateLimited(let retryAfter):
            return .waitForRateLimit(retryAfter: retryAfter)
        case .credentials:
            return .waitForCredentials
        case .failed(let failedClass):
            errorClass = failedClass
        }
        let attempt = Self.nextAttempt(after: previousAttempts)
        if errorClass.isTransient {
            if apiIsDown {
                return .waitForRecovery
            }
            if inProcessAttempt < self.configuration.inProcessAttempts {
                return .retryInProcess(after: self.backoff(afterAttempt: inProcessAttempt, using: &generator))
            }
            return self.nextRound(attempt: attempt, now: now)
        }
        if self.isRetriable(errorClass) {
            return self.nextRound(attempt: attempt, now: now)
        }
        return .deadLetter(topic: self.configuration.deadLetterTopic, attempt: attempt)
    }

    /// The attempt number after `previous` failed rounds: one more, saturating (a header may say `Int.max`).
    public static func nextAttempt(after previous: Int) -> Int {
        previous < 0 ? 1 : (previous == .max ? .max : previous + 1)
    }

    /// Decides with the system random source.
    ///
    /// - Parameters:
    ///   - failure: What went wrong.
    ///   - previousAttempts: How many rounds had failed before this one.
    ///   - inProcessAttempt: Which try of this round failed, from 1.
    ///   - apiIsDown: Whether the API is down as a whole.
    ///   - now: The current wall-clock time.
    public func decide(
        _ failure: Failure,
        previousAttempts: Int,
        inProcessAttempt: Int,
        apiIsDown: Bool = false,
        now: Date
    ) -> Decision {
        var generator = SystemRandomNumberGenerator()
        return self.decide(
            failure,
            previousAttempts: previousAttempts,
            inProcessAttempt: inProcessAttempt,
            apiIsDown: apiIsDown,
            now: now,
            using: &generator
        )
    }

    /// The pause after the `attempt`-th failed try of a round: uniformly random in
    /// `0 ..< min(maximum, initial × multiplier^(attempt-1))` ("full jitter").
    ///
    /// - Parameters:
    ///   - attempt: Which try failed, from 1.
    ///   - generator: The random source.
    public func backoff(afterAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let backoff = self.configuration.backoff
        let exponent = Double(max(0, attempt - 1))
        let ceiling = min(backoff.maximum.seconds, backoff.initial.seconds * pow(backoff.multiplier, exponent))
        guard ceiling > 0 else { return .zero }
        // 53 random bits as a fraction in [0, 1): no rejection sampling, so any generator terminates.
        let fraction = Double(generator.next() >> 11) * 0x1p-53
        return .nanoseconds(Int64((ceiling * fraction * 1e9).rounded()))
    }

    private func nextRound(attempt: Int, now: Date) -> Decision {
        let tiers = self.configuration.tiers
        guard attempt < self.configuration.maximumAttempts, !tiers.isEmpty else {
            return .deadLetter(topic: self.configuration.deadLetterTopic, attempt: attempt)
        }
        let index = min(attempt, tiers.count) - 1
        let tier = tiers[index]
        return .retryTier(
            topic: tier.topic,
            tierIndex: index,
            attempt: attempt,
            notBefore: now.addingTimeInterval(tier.delay.seconds)
        )
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: TimeInterval {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
    // Integral exponents only (attempt numbers), so repeated multiplication is exact enough and avoids libm.
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 && result < .greatestFiniteMagnitude {
        result *= base
        remaining -= 1
    }
    return result
}
