import Foundation
import Testing

@testable import Relay

@Suite("RetryPolicy")
struct RetryPolicyTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)
    static let policy = RetryPolicy(configuration: RetryConfiguration())

    static func decide(
        _ failure: RetryPolicy.Failure,
        previousAttempts: Int = 0,
        inProcessAttempt: Int = 1,
        apiIsDown: Bool = false,
        policy: RetryPolicy = policy
    ) -> RetryPolicy.Decision {
        var generator = SeededGenerator(seed: 1)
        return policy.decide(
            failure,
            previousAttempts: previousAttempts,
            inProcessAttempt: inProcessAttempt,
            apiIsDown: apiIsDown,
            now: now,
            using: &generator
        )
    }

    @Test(
        "transient failures retry in process, then go to the first tier",
        arguments: ErrorClass.allCases.filter(\.isTransient))
    func transientInProcessThenTier(errorClass: ErrorClass) {
        for attempt in 1...2 {
            guard case .retryInProcess = Self.decide(.failed(errorClass), inProcessAttempt: attempt) else {
                Issue.record("in-process attempt \(attempt) of \(errorClass) should retry in process")
                return
            }
        }
        #expect(
            Self.decide(.failed(errorClass), inProcessAttempt: 3)
                == .retryTier(
                    topic: "affonso-relay.retry.30s", tierIndex: 0, attempt: 1,
                    notBefore: Self.now.addingTimeInterval(30)
                )
        )
    }

    @Test("each failed round goes to the next tier; the last tier repeats; max_attempts dead-letters")
    func tierProgression() {
        var topics: [String] = []
        for previous in 0..<8 {
            switch Self.decide(.failed(.timeout), previousAttempts: previous, inProcessAttempt: 3) {
            case .retryTier(let topic, _, let attempt, _):
                #expect(attempt == previous + 1)
                topics.append(topic)
            case .deadLetter(let topic, let attempt):
                #expect(attempt == 8)
                topics.append(topic)
            default:
                Issue.record("unexpected decision after \(previous) failed rounds")
            }
        }
        #expect(
            topics == [
                "affonso-relay.retry.30s", "affonso-relay.retry.5m", "affonso-relay.retry.1h", "affonso-relay.retry.1h",
                "affonso-relay.retry.1h", "affonso-relay.retry.1h", "affonso-relay.retry.1h", "affonso-relay.dlq",
            ]
        )
    }

    @Test("referral_not_found skips in-process retries and goes to a tier, or dead-letters when configured")
    func referralNotFound() {
        #expect(
            Self.decide(.failed(.referralNotFound), previousAttempts: 1)
                == .retryTier(
                    topic: "affonso-relay.retry.5m", tierIndex: 1, attempt: 2,
                    notBefore: Self.now.addingTimeInterval(300)
                )
        )
        let deadLettering = RetryPolicy(configuration: RetryConfiguration(referralNotFound: .deadLetter))
        #expect(
            Self.decide(.failed(.referralNotFound), policy: deadLettering)
                == .deadLetter(topic: "affonso-relay.dlq", attempt: 1)
        )
        #expect(!deadLettering.isRetriable(.referralNotFound))
        #expect(Self.policy.isRetriable(.referralNotFound))
    }

    @Test(
        "classes retrying cannot fix dead-letter at once",
        arguments: [
            ErrorClass.validation, .identifierMismatch, .clientError, .mapping, .decode, .recordTooLarge,
            .ruleRemoved,
        ]
    )
    func permanent(errorClass: ErrorClass) {
        #expect(!Self.policy.isRetriable(errorClass))
        #expect(
            Self.decide(.failed(errorClass), previousAttempts: 2) == .deadLetter(topic: "affonso-relay.dlq", attempt: 3)
        )
    }

    @Test("429 and credentials faults are not attempts")
    func notAttempts() {
        #expect(
            Self.decide(.rateLimited(retryAfter: .seconds(7)), previousAttempts: 7, inProcessAttempt: 3)
                == .waitForRateLimit(retryAfter: .seconds(7))
        )
        #expect(Self.decide(.credentials(status: 401), previousAttempts: 7, inProcessAttempt: 3) == .waitForCredentials)
        #expect(Self.decide(.credentials(status: 403)) == .waitForCredentials)
    }

    @Test("while the API is down, transient failures are held instead of filling retry topics")
    func outageHolds() {
        #expect(Self.decide(.failed(.api5xx), inProcessAttempt: 3, apiIsDown: true) == .waitForRecovery)
        #expect(Self.decide(.failed(.connection), inProcessAttempt: 1, apiIsDown: true) == .waitForRecovery)
        // Permanent failures still dead-letter: they are about the record, not the API.
        #expect(
            Self.decide(.failed(.validation), apiIsDown: true) == .deadLetter(topic: "affonso-relay.dlq", attempt: 1)
        )
    }

    @Test("without tiers, or with max_attempts 1, a retriable failure dead-letters after its round")
    func noTiers() {
        let noTiers = RetryPolicy(configuration: RetryConfiguration(tiers: []))
        #expect(
            Self.decide(.failed(.api5xx), inProcessAttempt: 3, policy: noTiers)
                == .deadLetter(topic: "affonso-relay.dlq", attempt: 1)
        )
        let single = RetryPolicy(configuration: RetryConfiguration(maximumAttempts: 1))
        #expect(
            Self.decide(.failed(.referralNotFound), policy: single)
                == .deadLetter(topic: "affonso-relay.dlq", attempt: 1)
        )
    }

    @Test("one in-process attempt goes straight to a tier")
    func singleInProcessAttempt() {
        let policy = RetryPolicy(configuration: RetryConfiguration(inProcessAttempts: 1))
        guard case .retryTier(_, 0, 1, _) = Self.decide(.failed(.timeout), policy: policy) else {
            Issue.record("expected the first tier")
            return
        }
    }

    @Test("backoff is full jitter under an exponentially growing, capped ceiling")
    func backoffBounds() {
        let policy = RetryPolicy(
            configuration: RetryConfiguration(
                backoff: .init(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2)
            )
        )
        var highest = FixedGenerator(value: .max)
        var lowest = FixedGenerator(value: 0)
        let ceilings = (1...6).map { policy.backoff(afterAttempt: $0, using: &highest) }
        #expect(
            ceilings == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1),
                .seconds(1),
            ]
        )
        #expect((1...6).allSatisfy { policy.backoff(afterAttempt: $0, using: &lowest) == .zero })

        var generator = SeededGenerator(seed: 9)
        let samples = (0..<1000).map { _ in policy.backoff(afterAttempt: 3, using: &generator) }
        #expect(samples.allSatisfy { $0 >= .zero && $0 <= .milliseconds(400) })
        // Jitter spreads the pauses: they are not all the same.
        #expect(Set(samples).count > 900)
    }

    @Test("in-process retry pauses come from the backoff")
    func retryUsesBackoff() {
        var generator = FixedGenerator(value: .max)
        let decision = Self.policy.decide(
            .failed(.api5xx), previousAttempts: 0, inProcessAttempt: 2, now: Self.now, using: &generator
        )
        #expect(decision == .retryInProcess(after: .milliseconds(200)))
    }

    @Test("configuration validation names the bad setting")
    func validation() throws {
        try RetryConfiguration().validate()
        let bad: [(RetryConfiguration, String)] = [
            (RetryConfiguration(maximumAttempts: 0), "retry.max_attempts"),
            (RetryConfiguration(inProcessAttempts: 0), "delivery.in_process_attempts"),
            (RetryConfiguration(deadLetterTopic: ""), "retry.dead_letter_topic"),
            (RetryConfiguration(tiers: [.init(topic: "t", delay: .zero)]), "retry.tiers[0].delay"),
            (
                RetryConfiguration(tiers: [.init(topic: "affonso-relay.dlq", delay: .seconds(1))]),
                "retry.tiers[0].topic"
            ),
            (
                RetryConfiguration(tiers: [
                    .init(topic: "a", delay: .seconds(1)), .init(topic: "a", delay: .seconds(2)),
                ]),
                "retry.tiers[1].topic"
            ),
            (RetryConfiguration(deadLetterTopic: "dead letters"), "retry.dead_letter_topic 'dead letters' is not a"),
            (
                RetryConfiguration(deadLetterTopic: String(repeating: "d", count: 241)),
                "the topic that remembers replays"
            ),
            (
                RetryConfiguration(tiers: [.init(topic: "retry/30s", delay: .seconds(30))]),
                "retry.tiers[0].topic 'retry/30s' is not a Kafka topic name"
            ),
        ]
        #expect(throws: Never.self) {
            try RetryConfiguration(deadLetterTopic: String(repeating: "d", count: 240)).validate()
        }
        for (configuration, setting) in bad {
            #expect {
                try configuration.validate()
            } throws: { error in
                guard let error = error as? RelayError else { return false }
                return error.code == .invalidConfiguration && error.message.contains(setting)
            }
        }
    }
}
