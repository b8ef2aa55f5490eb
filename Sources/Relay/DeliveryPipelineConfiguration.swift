// MARK: - DeliveryPipelineConfiguration

/// How the pipeline delivers (SPEC.md §6): concurrency, ordering, retries, drains and health detection.
public struct DeliveryPipelineConfiguration: Sendable {
    /// Retry tiers, attempts, the dead-letter topic and in-process backoff.
    /// Default: ``RetryConfiguration/init(tiers:maximumAttempts:inProcessAttempts:deadLetterTopic:referralNotFound:backoff:)``'s defaults.
    public var retry: RetryConfiguration = RetryConfiguration()
    /// In-flight limit, ordering and unmatched records (`delivery:`). Default: 256, `.key`, `.skip`.
    public var delivery: DeliveryConfiguration = DeliveryConfiguration()
    /// How long revoked partitions (and shutdown) wait for in-flight work before giving up on it. Default: 25 s.
    public var drainTimeout: Duration = .seconds(25)
    /// When the API counts as down as a whole. Default: 80% of the last 20 requests failing transiently.
    public var outage: OutageDetector.Configuration = OutageDetector.Configuration()
    /// The pause between credential probes after a 401/403. Default: 30 s.
    public var credentialsProbeInterval: Duration = .seconds(30)
    /// The least time between two commits of stored offsets. Default: ``defaultCommitInterval``. 0: a commit
    /// starts as soon as offsets advance and the previous commit returned.
    public var commitInterval: Duration = Self.defaultCommitInterval
    /// 100 ms: a crash replays at most what was in flight and 100 ms of acknowledged events, and a member sends at
    /// most 10 OffsetCommit requests a second (back to back, a busy member commits every few events: about a tenth
    /// of its CPU in the sink benchmark, docs/benchmarks.md).
    public static let defaultCommitInterval = Duration.milliseconds(100)
    /// Where acknowledged conversions are remembered for refunds (`<group>.conversions`, compacted); nil when no
    /// rule refunds, so nothing is remembered. Default: nil.
    public var conversionsTopic: String?
    /// How long conversions are remembered: the conversions topic's `retention.ms` (`refunds.window`).
    /// Default: 180 days.
    public var refundsWindow: Duration = .seconds(180 * 86_400)
    /// Exact secrets (the API key) scrubbed from every message the pipeline writes or logs. Default: none.
    public var knownSecrets: [String] = []

    /// Creates a configuration with the defaults above.
    public init() {}

    /// The retry-tier topics, which the pipeline consumes besides the source topics.
    public var retryTopics: [String] { retry.tiers.map(\.topic) }
}
