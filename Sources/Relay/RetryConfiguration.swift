import KafkaClient

// MARK: - RetryConfiguration

/// How failed records are retried and dead-lettered (`retry:` and parts of `delivery:` in relay.yaml).
public struct RetryConfiguration: Sendable, Hashable {
    /// A retry topic and how long its records wait before they are attempted again.
    public struct Tier: Sendable, Hashable {
        /// The retry topic.
        public var topic: String
        /// How long after the failure a record in this tier is attempted again.
        public var delay: Duration

        /// - Parameters:
        ///   - topic: The retry topic.
        ///   - delay: How long after the failure a record in this tier is attempted again.
        public init(topic: String, delay: Duration) {
            self.topic = topic
            self.delay = delay
        }
    }

    /// What happens to an event whose referral the API does not find (`delivery.referral_not_found`).
    public enum ReferralNotFoundHandling: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Go through the retry tiers: the referral may be created later.
        case retry
        /// Dead-letter at once.
        case deadLetter = "dead_letter"

        public var description: String { rawValue }
    }

    /// The pause before an in-process retry: exponential with full jitter.
    public struct Backoff: Sendable, Hashable {
        /// The upper bound of the first pause. Default: 100 ms.
        public var initial: Duration
        /// The upper bound of any pause. Default: 5 s.
        public var maximum: Duration
        /// How much the upper bound grows per attempt. Default: 2.
        public var multiplier: Double

        /// - Parameters:
        ///   - initial: The upper bound of the first pause.
        ///   - maximum: The upper bound of any pause.
        ///   - multiplier: How much the upper bound grows per attempt.
        public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5), multiplier: Double = 2) {
            self.initial = initial
            self.maximum = maximum
            self.multiplier = multiplier
        }
    }

    /// The retry tiers in order; once past the last, records stay in the last tier until ``maximumAttempts``.
    /// Default: 30 s, 5 min and 1 h on `affonso-relay.retry.30s|5m|1h`.
    public var tiers: [Tier]
    /// How many delivery attempts (rounds from Kafka: the source record, then each retry-tier record) a record
    /// gets before it becomes a dead letter. Default: 8.
    public var maximumAttempts: Int
    /// How many times a transient failure is tried within one round, counting the first try, before the record
    /// goes to the next tier (`delivery.in_process_attempts`). Default: 3.
    public var inProcessAttempts: Int
    /// The dead-letter topic. Default: `affonso-relay.dlq`.
    public var deadLetterTopic: String
    /// What happens to `referral_not_found`. Default: ``ReferralNotFoundHandling/retry``.
    public var referralNotFound: ReferralNotFoundHandling
    /// The pause before in-process retries. Default: 100 ms doubling up to 5 s, full jitter.
    public var backoff: Backoff
    /// The replication factor of the retry, dead-letter and `.replayed` topics the relay creates
    /// (`retry.replication_factor`): `-1` lets the broker choose (`default.replication.factor`), so "durably
    /// written" means what the cluster is set up for; with `min.insync.replicas` of 2 or more a factor of 1 would
    /// make every write fail. Topics that exist already are left alone.
    ///
    /// Default: -1 (the broker's default)
    public var replicationFactor: Int = -1

    /// - Parameters:
    ///   - tiers: The retry tiers in order.
    ///   - maximumAttempts: Delivery attempts before a record becomes a dead letter.
    ///   - inProcessAttempts: Tries of a transient failure within one round.
    ///   - deadLetterTopic: The dead-letter topic.
    ///   - referralNotFound: What happens to `referral_not_found`.
    ///   - backoff: The pause before in-process retries.
    public init(
        tiers: [Tier] = [
            Tier(topic: "affonso-relay.retry.30s", delay: .seconds(30)),
            Tier(topic: "affonso-relay.retry.5m", delay: .seconds(300)),
            Tier(topic: "affonso-relay.retry.1h", delay: .seconds(3600)),
        ],
        maximumAttempts: Int = 8,
        inProcessAttempts: Int = 3,
        deadLetterTopic: String = "affonso-relay.dlq",
        referralNotFound: ReferralNotFoundHandling = .retry,
        backoff: Backoff = Backoff()
    ) {
        self.tiers = tiers
        self.maximumAttempts = maximumAttempts
        self.inProcessAttempts = inProcessAttempts
        self.deadLetterTopic = deadLetterTopic
        self.referralNotFound = referralNotFound
        self.backoff = backoff
    }

    /// Checks the settings are in range.
    ///
    /// - Throws: ``RelayError`` with code ``RelayError/Code/invalidConfiguration`` naming the setting and the fix.
    public func validate() throws(RelayError) {
        func invalid(_ message: String) -> RelayError {
            RelayError(code: .invalidConfiguration, message: message)
        }
        guard self.maximumAttempts >= 1 else {
            throw invalid("retry.max_attempts is \(self.maximumAttempts); set it to 1 or more")
        }
        guard self.inProcessAttempts >= 1 else {
            throw invalid("delivery.in_process_attempts is \(self.inProcessAttempts); set it to 1 or more")
        }
        guard self.replicationFactor == -1 || (1...10_000).contains(self.replicationFactor) else {
            throw invalid(
                "retry.replication_factor is \(self.replicationFactor); use -1 (the broker's default.replication.factor)"
                    + " or a factor from 1 to 10000"
            )
        }
        guard !self.deadLetterTopic.isEmpty else {
            throw invalid("retry.dead_letter_topic is empty; name the dead-letter topic")
        }
        if let problem = KafkaTopicName.problem(self.deadLetterTopic) {
            throw invalid("retry.dead_letter_topic '\(self.deadLetterTopic)' is not a Kafka topic name: \(problem)")
        }
        let replayed = DeadLetterReplayer.replayedTopic(of: self.deadLetterTopic)
        if let problem = KafkaTopicName.problem(replayed) {
            throw invalid(
                "retry.dead_letter_topic '\(self.deadLetterTopic)' is too long: the topic that remembers replays, "
                    + "'\(replayed)', would not be a Kafka topic name (\(problem)); shorten it")
        }
        var seen: Set<String> = [self.deadLetterTopic]
        for (index, tier) in self.tiers.enumerated() {
            guard !tier.topic.isEmpty else {
                throw invalid("retry.tiers[\(index)].topic is empty; name the retry topic")
            }
            if let problem = KafkaTopicName.problem(tier.topic) {
                throw invalid("retry.tiers[\(index)].topic '\(tier.topic)' is not a Kafka topic name: \(problem)")
            }
            guard tier.delay > .zero else {
                throw invalid("retry.tiers[\(index)].delay is \(tier.delay); use a positive duration such as 30s")
            }
            guard seen.insert(tier.topic).inserted else {
                throw invalid(
                    "retry.tiers[\(index)].topic \"\(tier.topic)\" is used twice; each tier and the dead-letter"
                        + " topic need their own topic"
                )
            }
        }
        guard self.backoff.initial >= .zero, self.backoff.maximum >= self.backoff.initial,
            self.backoff.multiplier >= 1
        else {
            throw invalid("retry backoff needs 0 ≤ initial ≤ maximum and a multiplier of at least 1")
        }
    }
}
