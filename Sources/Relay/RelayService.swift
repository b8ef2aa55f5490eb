import AffonsoAPI
import KafkaClient
import Logging
import Rules
import ServiceLifecycle
import Synchronization

// MARK: - RelayServiceConfiguration

/// Everything `affonso-relay run` needs, in the modules' own configuration types.
public struct RelayServiceConfiguration: Sendable {
    /// The group consumer; its topics are the source topics and patterns (retry tiers are added by the service).
    public var consumer: KafkaConsumerConfiguration
    /// The producer for retry-tier and dead-letter records.
    public var producer: KafkaProducerConfiguration
    /// The Affonso API client.
    public var affonso: AffonsoClientConfiguration
    /// Delivery, retry and drain settings.
    public var pipeline: DeliveryPipelineConfiguration
    /// Whether missing retry and dead-letter topics are created at start (`retry.create_topics`). Default: true.
    public var createTopics: Bool = true

    public init(
        consumer: KafkaConsumerConfiguration,
        producer: KafkaProducerConfiguration,
        affonso: AffonsoClientConfiguration,
        pipeline: DeliveryPipelineConfiguration
    ) {
        self.consumer = consumer
        self.producer = producer
        self.affonso = affonso
        self.pipeline = pipeline
    }

    /// The retry-tier and dead-letter topics, which `topics ensure` and `create_topics` create.
    public var relayTopics: [String] { pipeline.retryTopics + [pipeline.retry.deadLetterTopic] }
}

// MARK: - RelayService

/// `affonso-relay run`: the consumer, the delivery pipeline, the producer and the Affonso client as one service.
/// Graceful shutdown stops fetching, drains in-flight work up to the drain deadline, commits, leaves the group and
/// flushes the producer.
public final class RelayService: Service, Sendable {
    public let configuration: RelayServiceConfiguration
    public let pipeline: DeliveryPipeline
    /// Tells the client's rate limiter this member's share of the source partitions (`rate_limit.scope: fleet`).
    public let fleetShare: FleetShare
    private let client: AffonsoClient
    private let producer: KafkaProducer
    private let logger: Logger
    /// The consumer while `run()` consumes (internal: tests raise a fatal error in it).
    let consumer = Mutex<KafkaConsumer?>(nil)
    /// Set when consuming ended with an error (a fatal consumer error): `/livez` fails while the relay closes the
    /// consumer, up to the shutdown grace, before it exits.
    private let consumerFailed = Atomic(false)

    /// - Throws: ``KafkaError`` or ``AffonsoError`` for a configuration they reject.
    public init(
        configuration: RelayServiceConfiguration,
        rules: RuleSet,
        metrics: RelayMetrics = RelayMetrics(),
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.logger = logger
        client = try Self.makeClient(configuration.affonso, logger: logger)
        producer = try KafkaProducer(configuration: configuration.producer, logger: logger)
        fleetShare = FleetShare(
            sourceTopics: configuration.consumer.topics,
            relayTopics: configuration.relayTopics,
            limiter: client.rateLimiter,
            revocationGrace: configuration.pipeline.drainTimeout + .seconds(5),
            metrics: metrics,
            logger: logger
        )
        pipeline = DeliveryPipeline(
            configuration: configuration.pipeline,
            rules: rules,
            client: client,
            producer: producer,
            metrics: metrics,
            logger: logger
        )
    }

    /// Ready when the consumer runs and reaches a broker, and the pipeline is ready (key accepted, API up, not
    /// draining).
    /// Live unless a part of the relay failed beyond repair in process: the producer failed fatally, or the
    /// consumer stopped with an error (the relay is closing it to exit).
    public var isLive: Bool { !consumerFailed.load(ordering: .relaxed) && pipeline.isLive }

    public var isReady: Bool {
        guard let consumer = consumer.withLock({ $0 }) else { return false }
        return consumer.brokersReachable && pipeline.isReady
    }

    public func run() async throws {
        do {
            try await consume()
        } catch {
            await shutdownClients()
            throw error
        }
        await shutdownClients()
        logger.info("relay stopped")
    }

    private func consume() async throws {
        // Until the consumer runs, a graceful shutdown (SIGTERM) cancels the start-up: waiting for a broker,
        // creating topics and reading the cluster, each of which may otherwise block for many seconds.
        do {
            try await cancelWhenGracefulShutdown { try await self.prepare() }
        } catch  where Task.isShuttingDownGracefully {
            logger.info("shutdown requested during start-up; nothing was consumed")
            return
        }
        try await startConsuming()
    }

    /// What comes before consuming: a broker that answers, the relay's own topics, the cluster's description.
    private func prepare() async throws {
        try await waitForBroker()
        if configuration.createTopics {
            try await TopicProvisioner.ensure(
                configuration.relayTopics,
                bootstrapServers: configuration.consumer.bootstrapServers,
                properties: configuration.consumer.properties,
                replicationFactor: configuration.pipeline.retry.replicationFactor,
                logger: logger
            )
        }
        await TopicProvisioner.checkDurability(
            configuration.relayTopics,
            bootstrapServers: configuration.consumer.bootstrapServers,
            properties: configuration.consumer.properties,
            replicationFactor: configuration.pipeline.retry.replicationFactor,
            logger: logger
        )
        await TopicProvisioner.checkConfigs(
            TopicProvisioner.requirements(configuration.pipeline.retry),
            bootstrapServers: configuration.consumer.bootstrapServers,
            properties: configuration.consumer.properties,
            logger: logger
        )
        if let topic = configuration.pipeline.conversionsTopic, configuration.createTopics {
            try await TopicProvisioner.ensure(
                [topic],
                bootstrapServers: configuration.consumer.bootstrapServers,
                properties: configuration.consumer.properties,
                replicationFactor: configuration.pipeline.retry.replicationFactor,
                configs: TopicProvisioner.conversionsTopicConfigs(window: configuration.pipeline.refundsWindow),
                logger: logger
            )
        }
        if client.rateLimiter.isFleetScoped {
            await fleetShare.refreshTopics(
                bootstrapServers: configuration.consumer.bootstrapServers,
                properties: configuration.consumer.properties
            )
        }
        try Task.checkCancellation()
    }

    /// Waits until a broker of `kafka.brokers` answers, asking again every 10 s: one warning when none answered
    /// within the first 10 s, one notice when one answers after that. A broker that answers with an error (e.g.
    /// failed authentication) ends the wait with that error.
    private func waitForBroker() async throws {
        let brokers = configuration.consumer.bootstrapServers.joined(separator: ", ")
        logger.info("waiting for a Kafka broker to answer", metadata: ["kafka.brokers": "\(brokers)"])
        let admin = try KafkaAdmin(
            bootstrapServers: configuration.consumer.bootstrapServers, properties: configuration.consumer.properties,
            timeout: .seconds(10), logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        var hasWarned = false
        do {
            while let unanswered = try await Self.brokerTimeout(admin) {
                if !hasWarned {
                    logger.warning("\(unanswered); retrying until one answers (the relay starts then)")
                    hasWarned = true
                }
            }
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        if hasWarned {
            let waited = (clock.now - start).components.seconds
            logger.notice(
                "a Kafka broker answered after \(waited)s; starting", metadata: ["kafka.brokers": "\(brokers)"])
        }
    }

    /// One wait of up to 10 s (at least 1 s: a refused connection can fail at once) for a broker to answer.
    /// - Returns: nil when one answered, else the message saying that none did.
    private static func brokerTimeout(_ admin: KafkaAdmin) async throws -> String? {
        let attempt = ContinuousClock.now
        let result: Result<Void, KafkaError>
        do {
            try await admin.waitForBroker(timeout: .seconds(10))
            result = .success(())
        } catch {
            result = .failure(error)
        }
        switch result {
        case .success:
            return nil
        case .failure(let error) where error.code == .timeout:
            try await Task.sleep(until: attempt + .seconds(1))
            return error.message
        case .failure(let error):
            throw error
        }
    }

    private func startConsuming() async throws {
        var consumerConfiguration = configuration.consumer
        consumerConfiguration.topics += configuration.pipeline.retryTopics
        consumerConfiguration.revokeDeadline = configuration.pipeline.drainTimeout + .seconds(5)
        // The fleet's rate-limit share follows the assignment; then the pipeline drains or takes the partitions.
        let rebalanceHandler = pipeline.rebalanceHandler
        let consumer = try KafkaConsumer(
            configuration: consumerConfiguration,
            logger: logger,
            rebalanceHandler: { [fleetShare] event in
                fleetShare.rebalanced(event)
                await rebalanceHandler(event)
            }
        )
        self.consumer.withLock { $0 = consumer }
        defer { self.consumer.withLock { $0 = nil } }
        do {
            try await pipeline.run(consumer: consumer, conversions: try conversionsReader())
        } catch {
            consumerFailed.store(true, ordering: .relaxed)
            // A fatal consumer error ends the pipeline. The close is waited for within the shutdown grace, as at
            // SIGTERM: a commit in flight to a broker that does not answer would hold it for minutes, and the relay
            // must exit with the error instead (only acknowledged records' offsets are ever committed).
            await pipeline.closeWithinShutdownGrace(consumer)
            if let error = error as? KafkaError, error.isFatal {
                logger.error(
                    "the Kafka consumer failed fatally and cannot go on; the relay exits with this error so that its restart creates a new consumer, which reads again what was delivered since the last commit",
                    metadata: ["error": "\(error)"])
            }
            throw error
        }
    }

    /// A reader of the conversions topic from its start, in a group of its own that never commits (every member
    /// reads every conversion); nil when no rule refunds.
    private func conversionsReader() throws -> KafkaConsumer? {
        guard let topic = configuration.pipeline.conversionsTopic else { return nil }
        var reader = KafkaConsumerConfiguration(
            bootstrapServers: configuration.consumer.bootstrapServers,
            groupID: "\(configuration.consumer.groupID).conversions-reader.\(UInt64.random(in: 0...UInt64.max))",
            topics: [topic])
        reader.properties = configuration.consumer.properties
        reader.autoCommitInterval = nil
        reader.autoOffsetReset = .earliest
        reader.sessionTimeout = .seconds(10)
        reader.clientID = "affonso-relay-conversions"
        return try KafkaConsumer(configuration: reader, logger: logger)
    }

    /// The Affonso client, with every key it reads (the key file's, and each one it is rotated to) scrubbed from
    /// logs, error messages and retry headers from then on.
    static func makeClient(_ configuration: AffonsoClientConfiguration, logger: Logger) throws -> AffonsoClient {
        try AffonsoClient(configuration: configuration, logger: logger) { key in
            SecretScrubber.register(key)
        }
    }

    /// Flushes and closes the producer and the HTTP client within what is left of the shutdown grace (at least
    /// the pipeline's flush reserve, which the consumer's close leaves), so that the whole shutdown fits in
    /// `server.shutdown_grace`.
    private func shutdownClients() async {
        let now = ContinuousClock.now
        let budget = max(pipeline.flushReserve, (pipeline.shutdownDeadline ?? now) - now)
        do {
            try await producer.flush(timeout: budget)
        } catch {
            logger.error("producer flush failed at shutdown: \(error)")
        }
        await producer.close(flushTimeout: .zero)
        try? await client.shutdown()
    }
}

// MARK: - TopicProvisioner

/// Creates the relay's own topics (retry tiers and dead letters) when they are missing.
public enum TopicProvisioner {
    /// - Parameters:
    ///   - topics: the topics to create when missing.
    ///   - bootstrapServers: broker addresses.
    ///   - properties: librdkafka properties (SASL, TLS, …).
    ///   - partitions: partitions of each created topic.
    ///   - replicationFactor: replicas of each created topic; `-1` (the default) lets the broker choose
    ///     (`retry.replication_factor`).
    ///   - logger: logs each created topic.
    /// - Returns: the topics that were created (existing ones are left alone).
    @discardableResult
    public static func ensure(
        _ topics: [String],
        bootstrapServers: [String],
        properties: [String: String],
        partitions: Int = 3,
        replicationFactor: Int = KafkaAdmin.brokerDefaultReplicationFactor,
        configs: [String: String] = [:],
        logger: Logger
    ) async throws -> [String] {
        var specifications = Self.specifications(topics, partitions: partitions, replicationFactor: replicationFactor)
        for index in specifications.indices { specifications[index].configs = configs }
        return try await withAdmin(bootstrapServers, properties, logger) { admin in
            var created: [String] = []
            for specification in specifications where try await admin.ensureTopic(specification) {
                let topic = specification.name
                created.append(topic)
                logger.info(
                    "created topic",
                    metadata: [
                        "topic": "\(topic)",
                        "replication_factor": "\(replicationFactor == -1 ? "broker default" : "\(replicationFactor)")",
                    ])
            }
            return created
        }
    }

    /// The conversions topic keeps the newest record of each conversion for `window` (`refunds.window`).
    public static func conversionsTopicConfigs(window: Duration) -> [String: String] {
        let milliseconds = window.components.seconds.multipliedReportingOverflow(by: 1000)
        return [
            "cleanup.policy": "compact,delete",
            "retention.ms": milliseconds.overflow ? String(Int64.max) : String(milliseconds.partialValue),
        ]
    }

    /// What ``ensure(_:bootstrapServers:properties:partitions:replicationFactor:configs:logger:)`` asks the broker
    /// to create.
    static func specifications(
        _ topics: [String],
        partitions: Int,
        replicationFactor: Int
    ) -> [KafkaAdmin.TopicSpecification] {
        topics.map { .init(name: $0, partitions: partitions, replicationFactor: replicationFactor) }
    }

    /// Checks the side topics as they exist and logs one warning per topic that is missing or less durable than
    /// the cluster allows, saying what to change. Never fails: a cluster it cannot read is a warning too.
    ///
    /// - Parameters:
    ///   - topics: the retry, dead-letter (and `.replayed`) topics.
    ///   - bootstrapServers: broker addresses.
    ///   - properties: librdkafka properties (SASL, TLS, …).
    ///   - replicationFactor: `retry.replication_factor` (`-1`: the broker's default).
    ///   - logger: receives the warnings.
    /// - Returns: the warnings logged.
    @discardableResult
    public static func checkDurability(
        _ topics: [String],
        bootstrapServers: [String],
        properties: [String: String],
        replicationFactor: Int = KafkaAdmin.brokerDefaultReplicationFactor,
        logger: Logger
    ) async -> [String] {
        let warnings: [String]
        do {
            // A short timeout: an unreachable cluster must not hold up the start for long.
            let cluster = try await withAdmin(bootstrapServers, properties, logger, timeout: .seconds(10)) { admin in
                try await admin.describeCluster()
            }
            warnings = durabilityWarnings(topics, cluster: cluster, replicationFactor: replicationFactor)
        } catch {
            // Cancelled (a shutdown during start-up): nothing was checked, and there is nothing to warn about.
            if Task.isCancelled { return [] }
            warnings = ["could not check the retry and dead-letter topics' replication: \(error)"]
        }
        for warning in warnings { logger.warning("\(warning)") }
        return warnings
    }

    /// The warnings of ``checkDurability(_:bootstrapServers:properties:replicationFactor:logger:)``: a missing side
    /// topic, or one with fewer replicas than `retry.replication_factor` or, with the broker's default, than
    /// min(3, brokers).
    static func durabilityWarnings(
        _ topics: [String],
        cluster: KafkaAdmin.ClusterDescription,
        replicationFactor: Int
    ) -> [String] {
        let expected = replicationFactor > 0 ? replicationFactor : min(3, cluster.brokerCount)
        var warnings: [String] = []
        for name in topics {
            guard let topic = cluster.topics.first(where: { $0.name == name }) else {
                warnings.append(
                    "topic '\(name)' does not exist: records that fail cannot be retried or dead-lettered; run "
                        + "'affonso-relay topics ensure' or set retry.create_topics: true")
                continue
            }
            guard topic.replicationFactor < expected else { continue }
            let reason =
                replicationFactor > 0
                ? "retry.replication_factor is \(replicationFactor)"
                : "the cluster has \(cluster.brokerCount) brokers"
            warnings.append(
                "topic '\(name)' has replication factor \(topic.replicationFactor) and \(reason): a broker failure "
                    + "can lose the retry or dead-letter records it holds, and if min.insync.replicas exceeds "
                    + "\(topic.replicationFactor) every write to it fails; raise its replication factor to "
                    + "\(expected) (kafka-reassign-partitions) or recreate it")
        }
        return warnings
    }

    /// Whether `topic` exists.
    public static func exists(
        _ topic: String,
        bootstrapServers: [String],
        properties: [String: String],
        logger: Logger
    ) async throws -> Bool {
        try await withAdmin(bootstrapServers, properties, logger) { admin in
            try await admin.listTopics().contains { $0.name == topic }
        }
    }

    /// Runs `body` with an admin client that is closed afterwards, also when `body` throws.
    private static func withAdmin<Result>(
        _ bootstrapServers: [String],
        _ properties: [String: String],
        _ logger: Logger,
        timeout: Duration = .seconds(30),
        _ body: (KafkaAdmin) async throws -> Result
    ) async throws -> Result {
        let admin = try KafkaAdmin(
            bootstrapServers: bootstrapServers, properties: properties, timeout: timeout, logger: logger)
        do {
            let result = try await body(admin)
            await admin.close()
            return result
        } catch {
            await admin.close()
            throw error
        }
    }
}
