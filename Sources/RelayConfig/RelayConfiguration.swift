import AffonsoAPI
import Rules

/// The whole `relay.yaml` (docs/configuration.md), with every default filled in.
///
/// Plain values; the service maps them onto the Kafka, Affonso and Relay modules' own configuration types.
public struct RelayConfiguration: Sendable {
    public var kafka = Kafka()
    public var affonso = Affonso()
    public var delivery = Delivery()
    public var retry = Retry()
    public var server = Server()
    public var logging = Logging()
    public var refunds = Refunds()
    /// Inline rules first, then those of `rule_files` in file order.
    public var rules: [RuleDefinition] = []

    public init() {}

    public struct Kafka: Sendable, Hashable {
        /// Default: `["localhost:9092"]`.
        public var brokers: [String] = ["localhost:9092"]
        /// Default: `affonso-relay`.
        public var groupID: String = "affonso-relay"
        /// Default: none. Exact topic names.
        public var topics: [String] = []
        /// Default: none. Regular expressions (librdkafka subscribes to them with a `^` prefix).
        public var topicPatterns: [String] = []
        /// Default: none. librdkafka properties, passed verbatim.
        public var clientProperties: [String: String] = [:]
        /// Default: 1_048_576. Larger records are dead-lettered with class `record_too_large`.
        public var maximumRecordBytes: Int = 1_048_576
        /// Default: 100 ms — stored offsets are committed one commit at a time, at most every 100 ms, so a crash
        /// replays at most what was in flight and 100 ms of acknowledged events (which the API's idempotency key
        /// absorbs). 0 commits back to back, as soon as offsets advance: at tens of thousands of events per second
        /// that is a commit every few events, about a tenth of the relay's CPU and a request to the group
        /// coordinator each. Offsets are committed at least every second regardless.
        public var commitInterval: Duration = .milliseconds(100)
        public init() {}
    }

    public struct Affonso: Sendable, Hashable {
        public enum Plan: String, Sendable, Hashable, CaseIterable {
            case launch, growth, elite, enterprise, unlimited
        }
        public enum RateLimitScope: String, Sendable, Hashable, CaseIterable {
            case fleet, pod
        }
        public struct RateLimit: Sendable, Hashable {
            public var perMinute: Int
            public var burst: Int
            public init(perMinute: Int, burst: Int) {
                self.perMinute = perMinute
                self.burst = burst
            }
        }
        /// Default: `https://api.affonso.io`.
        public var baseURL: String = "https://api.affonso.io"
        /// Default: nil. Never logged.
        public var apiKey: String?
        /// Default: nil. Re-read on 401.
        public var apiKeyFile: String?
        /// Default: growth.
        public var plan: Plan = .growth
        /// Default: nil (the plan's limits).
        public var rateLimit: RateLimit?
        /// Default: fleet. Whose requests the limit covers (`affonso.rate_limit.scope`): `fleet`, every member of
        /// the consumer group together; `pod`, each process alone.
        public var rateLimitScope: RateLimitScope = .fleet
        /// Default: 10s.
        public var timeout: Duration = .seconds(10)
        /// Default: 60s. The longest wait the API can ask for (`Retry-After`, `error.retryAfter`,
        /// `X-RateLimit-Reset`); longer values are capped and logged once. More than 0, at most 24h.
        public var maximumRetryAfter: Duration = .seconds(60)
        /// Default: false. `http://` is refused unless loopback or this is true.
        public var allowInsecureHTTP: Bool = false
        public init() {}
    }

    public struct Delivery: Sendable, Hashable {
        public enum Ordering: String, Sendable, Hashable, CaseIterable {
            case key, partition, none
        }
        public enum Unmatched: String, Sendable, Hashable, CaseIterable {
            case skip
            case deadLetter = "dead_letter"
        }
        public enum ReferralNotFound: String, Sendable, Hashable, CaseIterable {
            case retry
            case deadLetter = "dead_letter"
        }
        /// Default: 256, across all partitions.
        public var maximumInFlight: Int = 256
        /// Default: key.
        public var ordering: Ordering = .key
        /// Default: 3.
        public var inProcessAttempts: Int = 3
        /// Default: skip.
        public var unmatched: Unmatched = .skip
        /// Default: retry.
        public var referralNotFound: ReferralNotFound = .retry
        /// One budget for the bytes of every record the relay holds (fetched ahead, queued, in flight, held for
        /// a retry time); fetching stops while it is spent. Default: 64 MiB.
        public var maximumBufferedBytes: Int = 64 << 20
        public init() {}
    }

    public struct Retry: Sendable, Hashable {
        public struct Tier: Sendable, Hashable {
            public var topic: String
            public var delay: Duration
            public init(topic: String, delay: Duration) {
                self.topic = topic
                self.delay = delay
            }
        }
        /// Default: 30s, 5m and 1h tiers on `affonso-relay.retry.30s|5m|1h`.
        public var tiers: [Tier] = [
            Tier(topic: "affonso-relay.retry.30s", delay: .seconds(30)),
            Tier(topic: "affonso-relay.retry.5m", delay: .seconds(300)),
            Tier(topic: "affonso-relay.retry.1h", delay: .seconds(3600)),
        ]
        /// Default: 8.
        public var maximumAttempts: Int = 8
        /// Default: `affonso-relay.dlq`.
        public var deadLetterTopic: String = "affonso-relay.dlq"
        /// Default: true.
        public var createTopics: Bool = true
        /// Default: -1, the broker's `default.replication.factor`. Replicas of the retry, dead-letter and
        /// `.replayed` topics the relay creates; -1 or 1 to 10000.
        public var replicationFactor: Int = -1
        public init() {}
    }

    public struct Server: Sendable, Hashable {
        /// Default: `0.0.0.0:9464` (/metrics /livez /readyz).
        public var listen: String = "0.0.0.0:9464"
        /// Default: 25s.
        public var shutdownGrace: Duration = .seconds(25)
        public init() {}
    }

    public struct Logging: Sendable, Hashable {
        public enum Level: String, Sendable, Hashable, CaseIterable {
            case trace, debug, info, notice, warning, error, critical
        }
        public enum Format: String, Sendable, Hashable, CaseIterable {
            case json, text
        }
        /// Default: info.
        public var level: Level = .info
        /// Default: json.
        public var format: Format = .json
        public init() {}
    }
}

extension RelayConfiguration {
    /// `refunds:`: how the relay remembers conversions so that refund rules can reverse them.
    public struct Refunds: Sendable, Hashable {
        /// Default: 180 days. How long an acknowledged conversion is remembered: the retention of the relay's
        /// compacted conversions topic `<group>.conversions`. A refund of a conversion older than this cannot be
        /// resolved (class `conversion_not_found`). At least 1 day, at most 10 years.
        public var window: Duration = .seconds(180 * 86_400)
        public init() {}
    }
}

extension RelayConfiguration.Affonso: CustomStringConvertible {
    /// Never shows the API key (nor a password in the URL).
    public var description: String {
        "Affonso(baseURL: \(AffonsoClientConfiguration.shownURL(baseURL)), apiKey: \(apiKey == nil ? "none" : "<redacted>"), plan: \(plan.rawValue))"
    }
}
