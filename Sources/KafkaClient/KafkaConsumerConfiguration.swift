/// How a ``KafkaConsumer`` joins its group and reads.
public struct KafkaConsumerConfiguration: Sendable, Hashable {
    /// How partitions are spread over the group's members.
    public struct PartitionAssignmentStrategy: Sendable, Hashable, CustomStringConvertible {
        /// The librdkafka name (`partition.assignment.strategy`).
        public var value: String
        /// Incremental cooperative rebalancing: only moved partitions are revoked.
        public static let cooperativeSticky = PartitionAssignmentStrategy(value: "cooperative-sticky")
        /// Eager range assignment: every rebalance revokes everything.
        public static let range = PartitionAssignmentStrategy(value: "range")
        /// Eager round-robin assignment.
        public static let roundRobin = PartitionAssignmentStrategy(value: "roundrobin")
        public var description: String { value }
    }

    /// Where to start when a partition has no committed offset.
    public struct AutoOffsetReset: Sendable, Hashable, CustomStringConvertible {
        /// The librdkafka name (`auto.offset.reset`).
        public var value: String
        /// Start at the first record still in the log.
        public static let earliest = AutoOffsetReset(value: "earliest")
        /// Start at the end: only records produced from now on.
        public static let latest = AutoOffsetReset(value: "latest")
        /// Fail (the consumer reports an error).
        public static let error = AutoOffsetReset(value: "error")
        public var description: String { value }
    }

    /// Broker addresses, `host:port`.
    public var bootstrapServers: [String]
    /// The consumer group.
    public var groupID: String
    /// Topic names, and regular expressions starting with `^` (librdkafka's pattern subscription).
    /// Default: `[]`
    public var topics: [String]
    /// Default: `.cooperativeSticky`
    public var partitionAssignmentStrategy: PartitionAssignmentStrategy
    /// Default: `.earliest`
    public var autoOffsetReset: AutoOffsetReset
    /// How often stored offsets are committed in the background. `nil` disables auto-commit; then only
    /// ``KafkaConsumer/commit()`` and rebalances commit.
    /// Default: `.seconds(1)`
    public var autoCommitInterval: Duration?
    /// Group session timeout: how long the group waits for a silent member before reassigning its partitions.
    /// Default: `.seconds(45)`
    public var sessionTimeout: Duration
    /// How long the rebalance handler may take for revoked partitions before the consumer commits and unassigns.
    /// Default: `.seconds(10)`
    public var revokeDeadline: Duration
    /// How many messages the consumer takes from librdkafka ahead of the application; while that many wait the
    /// poll thread takes no more (records stay in librdkafka's prefetch, which then stops fetching; rebalances are
    /// still served). Enough for one hand-over batch of the poll thread: more only holds memory (10,000 records
    /// of 1 KB held 10 MB that no consumer took sooner for it).
    /// Default: `1_024`
    public var bufferCapacity: Int
    /// The bytes of records the consumer may hold ahead of the application and the application may keep
    /// (see ``ByteBudget``): a record handed out holds its share until its last copy is gone. While it is spent
    /// no more records are taken from librdkafka, whose own prefetch is sized from it (see ``prefetchBytes``).
    /// Default: 64 MiB
    public var maximumBufferedBytes: Int
    /// The client id sent to brokers.
    /// Default: `"affonso-relay"`
    public var clientID: String
    /// Any librdkafka property (SASL, TLS, fetch sizes, …), passed verbatim; these win over the fields above,
    /// except `enable.auto.offset.store`, which is always `false` (offsets are stored explicitly).
    /// Default: `[:]`
    public var properties: [String: String]

    /// Creates a configuration.
    /// - Parameters:
    ///   - bootstrapServers: broker addresses, `host:port`.
    ///   - groupID: the consumer group.
    ///   - topics: topic names and `^`-regular expressions.
    public init(bootstrapServers: [String], groupID: String, topics: [String] = []) {
        self.bootstrapServers = bootstrapServers
        self.groupID = groupID
        self.topics = topics
        self.partitionAssignmentStrategy = .cooperativeSticky
        self.autoOffsetReset = .earliest
        self.autoCommitInterval = .seconds(1)
        self.sessionTimeout = .seconds(45)
        self.revokeDeadline = .seconds(10)
        self.bufferCapacity = 1_024
        self.maximumBufferedBytes = 64 << 20
        self.clientID = "affonso-relay"
        self.properties = [:]
    }

    /// Tuning defaults that librdkafka before 2.2 does not know (skipped there); `properties` override them.
    ///
    /// `fetch.queue.backoff.ms` (librdkafka default 1000): once librdkafka's prefetch queue is over its limits,
    /// the next fetch of a partition is postponed by this much. The consumer drains that queue in far less than
    /// a second, so with the default it then sat idle for the rest of the second (measured: 1 s stalls, a third of
    /// the throughput).
    static let optionalLibrdkafkaProperties: [(String, String)] = [("fetch.queue.backoff.ms", "20")]

    /// librdkafka's prefetch, in `queued.max.messages.kbytes` and `fetch.max.bytes` (unless ``properties`` sets
    /// them): a sixty-fourth of ``maximumBufferedBytes``, at least 1 MiB and at most librdkafka's default of
    /// 64 MiB; 1 MiB with the default budget.
    ///
    /// librdkafka holds up to both at once (a fetch response arrives while the queue is just under its limit),
    /// with its per-message overhead on top: a quarter of the budget (16 MiB each) cost 40 MB of resident memory.
    /// A fetch returns at least one whole record even when it is larger, and 1 MiB (about 1,000 records of 1 KB)
    /// still keeps one consumer fed at over 20,000 records/s on a 10 ms fetch round trip; the consumer's own
    /// buffer (``bufferCapacity``) and the application's queue are read ahead on top.
    public var prefetchBytes: Int { min(max(maximumBufferedBytes / 64, 1 << 20), 64 << 20) }

    /// The librdkafka properties this configuration stands for.
    var librdkafkaProperties: [(String, String)] {
        var defaults: [(String, String)] = [
            ("bootstrap.servers", bootstrapServers.joined(separator: ",")),
            ("group.id", groupID),
            ("client.id", clientID),
            ("partition.assignment.strategy", partitionAssignmentStrategy.value),
            ("auto.offset.reset", autoOffsetReset.value),
            ("session.timeout.ms", String(RDKafkaConfig.milliseconds(sessionTimeout))),
            ("enable.partition.eof", "false"),
            ("queued.max.messages.kbytes", String(prefetchBytes >> 10)),
            ("fetch.max.bytes", String(prefetchBytes)),
        ]
        if let autoCommitInterval {
            defaults.append(("enable.auto.commit", "true"))
            defaults.append(("auto.commit.interval.ms", String(RDKafkaConfig.milliseconds(autoCommitInterval))))
        } else {
            defaults.append(("enable.auto.commit", "false"))
        }
        return RDKafkaConfig.merge(
            defaults: defaults,
            properties: properties,
            enforced: [("enable.auto.offset.store", "false")]
        )
    }
}
