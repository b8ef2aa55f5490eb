import CRdKafka
import Testing

@testable import KafkaClient

/// The start-up check of the relay's side topics: each shortfall of an existing topic is one warning that says
/// what to change.
@Suite("Side topic config warnings")
struct KafkaAdminConfigTests {
    static let retry = KafkaAdmin.TopicRequirement(
        name: "relay.retry.5m", minimumRetention: .seconds(3_600), retentionReason: "the longest retry delay (1h)",
        minimumPartitions: 3, partitionsReason: "several pods share the retries")
    static let deadLetters = KafkaAdmin.TopicRequirement(
        name: "relay.dlq", minimumRetention: .seconds(7 * 86_400), retentionReason: "7 days")

    static func warnings(
        for requirement: KafkaAdmin.TopicRequirement = retry,
        partitions: Int = 3,
        replicas: Int = 3,
        _ configs: KafkaAdmin.TopicConfigs?
    ) -> [String] {
        KafkaAdmin.configWarnings(
            [requirement],
            topics: [.init(name: requirement.name, partitionCount: partitions, replicationFactor: replicas)],
            configs: configs.map { [requirement.name: $0] } ?? [:])
    }

    static let healthy: KafkaAdmin.TopicConfigs = [
        "min.insync.replicas": "2", "retention.ms": "604800000", "cleanup.policy": "delete",
    ]

    @Test("a topic that meets every requirement gives no warning, nor does a missing one")
    func healthyTopic() {
        #expect(Self.warnings(Self.healthy).isEmpty)
        #expect(Self.warnings(for: Self.deadLetters, Self.healthy).isEmpty)
        #expect(Self.warnings(Self.healthy.merging(["retention.ms": "-1"]) { $1 }).isEmpty, "-1 keeps forever")
        #expect(KafkaAdmin.configWarnings([Self.retry], topics: [], configs: [:]).isEmpty)
    }

    @Test("min.insync.replicas above the replication factor: every write fails; the fix is named")
    func minInsyncAboveReplicas() throws {
        let warnings = Self.warnings(replicas: 2, Self.healthy.merging(["min.insync.replicas": "3"]) { $1 })
        let warning = try #require(warnings.first)
        #expect(warnings.count == 1)
        #expect(warning.contains("'relay.retry.5m' has min.insync.replicas=3 but replication factor 2"))
        #expect(warning.contains("every acks=all write to it fails"))
        #expect(
            warning.contains(
                "kafka-configs --bootstrap-server BROKER --alter --entity-type topics --entity-name relay.retry.5m "
                    + "--add-config min.insync.replicas=1"))
    }

    @Test("min.insync.replicas equal to a replication factor above 1: one broker down stops writes")
    func minInsyncEqualReplicas() throws {
        let warning = try #require(Self.warnings(replicas: 2, Self.healthy).first)
        #expect(warning.contains("equal to its replication factor"))
        #expect(warning.contains("--add-config min.insync.replicas=1"))
        #expect(Self.warnings(replicas: 1, Self.healthy.merging(["min.insync.replicas": "1"]) { $1 }).isEmpty)
    }

    @Test("retention shorter than required names the retention, the reason and the value to set")
    func shortRetention() throws {
        let retry = try #require(Self.warnings(Self.healthy.merging(["retention.ms": "600000"]) { $1 }).first)
        #expect(retry.contains("retention.ms=600000 (10min), less than the longest retry delay (1h)"))
        #expect(retry.contains("--add-config retention.ms=3600000"))
        let dlq = try #require(
            Self.warnings(for: Self.deadLetters, Self.healthy.merging(["retention.ms": "86400000"]) { $1 }).first)
        #expect(dlq.contains("'relay.dlq' keeps records for retention.ms=86400000 (1d), less than 7 days"))
        #expect(dlq.contains("retention.ms=604800000"))
    }

    @Test("compaction is warned about unless the topic allows it")
    func compaction() throws {
        let compacted = Self.healthy.merging(["cleanup.policy": "compact,delete"]) { $1 }
        let warning = try #require(Self.warnings(compacted).first)
        #expect(warning.contains("cleanup.policy=compact,delete"))
        #expect(warning.contains("--add-config cleanup.policy=delete"))
        var replayed = Self.deadLetters
        replayed.allowsCompaction = true
        #expect(Self.warnings(for: replayed, compacted).isEmpty)
    }

    @Test("fewer partitions than required is warned about, also when the broker gave no configs")
    func partitions() throws {
        let warnings = Self.warnings(partitions: 1, nil)
        let warning = try #require(warnings.first)
        #expect(warnings.count == 1)
        #expect(warning.contains("'relay.retry.5m' has 1 partition(s), fewer than 3 (several pods share the retries)"))
        #expect(
            warning.contains("kafka-topics --bootstrap-server BROKER --alter --topic relay.retry.5m --partitions 3"))
    }

    @Test("every shortfall of one topic is its own warning")
    func several() {
        let bad: KafkaAdmin.TopicConfigs = [
            "min.insync.replicas": "4", "retention.ms": "1000", "cleanup.policy": "compact",
        ]
        #expect(Self.warnings(partitions: 1, replicas: 3, bad).count == 4)
    }

    @Test("unreadable values are not warned about", arguments: ["", "many", "1e9", "99999999999999999999999"])
    func unreadable(value: String) {
        #expect(Self.warnings(["min.insync.replicas": value, "retention.ms": value]).isEmpty)
    }
}

/// DescribeConfigs where the broker cannot answer it. librdkafka sends DescribeConfigs of topics to the controller,
/// and its mock cluster (2.16) names a controller none of its brokers is, so there the request can only time out:
/// what the topics' configs are is checked against the real broker in `IntegrationTests/KafkaAdminConfigsTests`.
@Suite("DescribeConfigs without an answer", .timeLimit(.minutes(1)))
struct KafkaAdminDescribeConfigsMockTests {
    @Test("a broker that gives no answer is a KafkaError within the admin client's timeout, not a hang")
    func noAnswer() async throws {
        let cluster = try KafkaMockCluster(brokers: 1)
        try cluster.createTopic("side.retry", partitions: 3)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers, timeout: .seconds(2), logger: testLogger)
        let started = ContinuousClock.now
        let error = await #expect(throws: KafkaError.self) {
            _ = try await admin.describeTopicConfigs(["side.retry"])
        }
        // The request's own timeout (2 s) plus the 5 s the answer is polled for beyond it, and slack for a loaded
        // machine: never the test's one-minute limit.
        #expect(started.duration(to: .now) < .seconds(30))
        #expect(error?.message.contains("could not describe the configs of side.retry") == true)
        #expect(error?.isUnsupportedRequest == false, "a timeout is not a broker without the request")
        await admin.close()
        await cluster.close()
    }

    @Test("no topics asks nothing")
    func empty() async throws {
        let admin = try KafkaAdmin(bootstrapServers: ["127.0.0.1:1"], timeout: .seconds(2), logger: testLogger)
        #expect(try await admin.describeTopicConfigs([]).isEmpty)
        await admin.close()
    }

    @Test(
        "the errors of a broker that does not implement a request are told apart",
        arguments: [
            (RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE, true), (RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION, true),
            (RD_KAFKA_RESP_ERR__TIMED_OUT, false), (RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, false),
        ])
    func unsupported(code: rd_kafka_resp_err_t, unsupported: Bool) {
        #expect(KafkaError.rdKafka(code, "describe").isUnsupportedRequest == unsupported)
    }
}
