import KafkaClient
import Logging

// MARK: - Side topic configs

extension TopicProvisioner {
    /// How long a dead letter must at least be kept: long enough for people to notice, fix the cause and replay.
    public static let deadLetterMinimumRetention: Duration = .seconds(7 * 86_400)
    /// The partitions of a retry tier below which a warning is given: as many as ``ensure`` creates, so that the
    /// retries of a tier are shared by several pods.
    static let retryMinimumPartitions = 3

    /// What the retry tiers, the dead-letter topic and its `.replayed` topic must provide: retry tiers keep records
    /// at least as long as the longest tier delay and have 3 partitions or more; the dead-letter and `.replayed`
    /// topics keep records for 7 days or more; none but `.replayed` (keyed by the dead letter's coordinates) is
    /// compacted.
    public static func requirements(_ retry: RetryConfiguration) -> [KafkaAdmin.TopicRequirement] {
        let longest = retry.tiers.map(\.delay).max() ?? .zero
        let tiers = retry.tiers.map { tier in
            KafkaAdmin.TopicRequirement(
                name: tier.topic,
                minimumRetention: longest,
                retentionReason: "the longest retry delay (\(KafkaAdmin.describe(retention: longest)))",
                minimumPartitions: retryMinimumPartitions,
                partitionsReason: "the relay creates retry topics with \(retryMinimumPartitions) so that several "
                    + "pods share the retries"
            )
        }
        let week = "7 days, the time to inspect, fix and replay dead letters (dlq replay)"
        return tiers + [
            KafkaAdmin.TopicRequirement(
                name: retry.deadLetterTopic, minimumRetention: deadLetterMinimumRetention, retentionReason: week),
            KafkaAdmin.TopicRequirement(
                name: DeadLetterReplayer.replayedTopic(of: retry.deadLetterTopic),
                minimumRetention: deadLetterMinimumRetention,
                retentionReason: week + ", as long as the dead letters it remembers", allowsCompaction: true),
        ]
    }

    /// Checks the configs of the side topics that exist (partitions, `min.insync.replicas` against the replication
    /// factor, `retention.ms`, `cleanup.policy`) and logs one warning per shortfall with the command that fixes it.
    /// Never fails: a broker that does not answer DescribeConfigs (some Kafka-compatible brokers) is one debug line,
    /// another failure one warning.
    ///
    /// - Parameters:
    ///   - requirements: ``requirements(_:)`` of the relay's retry configuration.
    ///   - bootstrapServers: broker addresses.
    ///   - properties: librdkafka properties (SASL, TLS, …).
    ///   - logger: receives the warnings.
    /// - Returns: the warnings logged.
    @discardableResult
    public static func checkConfigs(
        _ requirements: [KafkaAdmin.TopicRequirement],
        bootstrapServers: [String],
        properties: [String: String],
        logger: Logger
    ) async -> [String] {
        var warnings: [String]
        do {
            // A short timeout: an unreachable cluster must not hold up the start for long.
            let admin = try KafkaAdmin(
                bootstrapServers: bootstrapServers, properties: properties, timeout: .seconds(10), logger: logger)
            do {
                warnings = try await configWarnings(requirements, admin: admin, logger: logger)
                await admin.close()
            } catch {
                await admin.close()
                throw error
            }
        } catch {
            warnings = ["could not check the configs of the retry and dead-letter topics: \(error)"]
        }
        for warning in warnings { logger.warning("\(warning)") }
        return warnings
    }

    private static func configWarnings(
        _ requirements: [KafkaAdmin.TopicRequirement],
        admin: KafkaAdmin,
        logger: Logger
    ) async throws(KafkaError) -> [String] {
        let names = Set(requirements.map(\.name))
        let topics = try await admin.listTopics().filter { names.contains($0.name) }
        var configs: [String: KafkaAdmin.TopicConfigs] = [:]
        do {
            configs = try await admin.describeTopicConfigs(topics.map(\.name))
        } catch  where error.isUnsupportedRequest {
            logger.debug(
                "the broker does not answer DescribeConfigs; the side topics' retention and min.insync.replicas are not checked",
                metadata: ["error": "\(error.message)"])
        }
        return KafkaAdmin.configWarnings(requirements, topics: topics, configs: configs)
    }
}
