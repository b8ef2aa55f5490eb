import Foundation
import KafkaClient
import Logging
import Relay
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The start-up check of existing side topics against the real broker: DescribeConfigs (Tansu answers it with the
/// configs a topic was created with), the warnings for each shortfall, and the relay process logging them at start.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .timeLimit(.minutes(2)))
struct KafkaAdminConfigsTests {
    @Test func describeTopicConfigsReadsWhatTheTopicWasCreatedWith() async throws {
        let admin = try KafkaAdmin(bootstrapServers: kafkaBrokers ?? [], timeout: .seconds(10), logger: kafkaTestLogger)
        let name = uniqueName("configs")
        try await admin.createTopic(
            .init(name: name, partitions: 1, configs: ["retention.ms": "60000", "cleanup.policy": "compact"]))
        let configs = try await admin.describeTopicConfigs([name])
        await admin.close()
        #expect(configs[name]?["retention.ms"] == "60000")
        #expect(configs[name]?["cleanup.policy"] == "compact")
    }

    /// Side topics that exist with every shortfall the check knows; each is one warning naming the fix.
    @Test func checkConfigsWarnsAboutEachShortfallOfExistingSideTopics() async throws {
        let prefix = uniqueName("side")
        var retry = RetryConfiguration()
        retry.tiers = [
            .init(topic: "\(prefix).retry.1m", delay: .seconds(60)),
            .init(topic: "\(prefix).retry.1h", delay: .seconds(3_600)),
        ]
        retry.deadLetterTopic = "\(prefix).dlq"
        let admin = try KafkaAdmin(bootstrapServers: kafkaBrokers ?? [], logger: kafkaTestLogger)
        // Shorter than the longest delay, one partition, and more in-sync replicas than replicas.
        try await admin.createTopic(
            .init(
                name: retry.tiers[0].topic, partitions: 1, replicationFactor: 2,
                configs: ["retention.ms": "600000", "min.insync.replicas": "3"]))
        // As the relay creates it: no warning.
        try await admin.createTopic(.init(name: retry.tiers[1].topic, partitions: 3))
        // One day of dead letters, compacted.
        try await admin.createTopic(
            .init(
                name: retry.deadLetterTopic, partitions: 1,
                configs: ["retention.ms": "86400000", "cleanup.policy": "compact"]))
        await admin.close()

        let warnings = await TopicProvisioner.checkConfigs(
            TopicProvisioner.requirements(retry), bootstrapServers: kafkaBrokers ?? [], properties: [:],
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let tier = warnings.filter { $0.hasPrefix("topic '\(retry.tiers[0].topic)'") }
        let deadLetters = warnings.filter { $0.hasPrefix("topic '\(retry.deadLetterTopic)'") }
        #expect(warnings.count == 5, "\(warnings)")
        #expect(tier.count == 3)
        #expect(tier.contains { $0.contains("has 1 partition(s), fewer than 3") })
        #expect(tier.contains { $0.contains("min.insync.replicas=3 but replication factor 2") })
        #expect(tier.contains { $0.contains("retention.ms=600000 (10min), less than the longest retry delay (1h)") })
        #expect(deadLetters.count == 2)
        #expect(
            deadLetters.contains {
                $0.contains("retention.ms=86400000 (1d), less than 7 days")
                    && $0.contains(
                        "kafka-configs --bootstrap-server BROKER --alter --entity-type topics --entity-name "
                            + "\(retry.deadLetterTopic) --add-config retention.ms=604800000")
            })
        #expect(deadLetters.contains { $0.contains("cleanup.policy=compact") })
        #expect(!warnings.contains { $0.contains(retry.tiers[1].topic) }, "a topic as the relay creates it is fine")
    }

    /// `affonso-relay run` checks the side topics that exist at start and logs a warning with the fix.
    @Test func relayProcessWarnsAtStartAboutAShortLivedDeadLetterTopic() async throws {
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1, tiers: ["1s"])
        let admin = try KafkaAdmin(bootstrapServers: kafkaBrokers ?? [], logger: kafkaTestLogger)
        try await admin.createTopic(.init(name: relay.deadLetterTopic, configs: ["retention.ms": "3600000"]))
        await admin.close()
        let process = try RelayProcess(configuration: { relay.configurationText(listen: $0, logFormat: "json") })
        let warned = await kafkaEventually(timeout: .seconds(60)) {
            process.occurrences(of: "topic '\(relay.deadLetterTopic)' keeps records for retention.ms=3600000 (1h)") == 1
        }
        #expect(warned, "the start-up check names the dead-letter topic's retention")
        #expect(await process.waitForReadiness(true), "and the relay runs on")
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        await process.kill()
        try await relay.stop()
    }
}
