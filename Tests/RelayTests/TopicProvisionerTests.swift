import KafkaClient
import Logging
import Testing

@testable import Relay

/// The relay's side topics (retry tiers, dead letters, `.replayed`) are created durable: with the broker's
/// default replication factor unless `retry.replication_factor` says otherwise.
@Suite("Side topic provisioning")
struct TopicProvisionerTests {
    @Test("by default the side topics are created with the broker's default replication factor, not 1")
    func brokerDefault() {
        let retry = RetryConfiguration()
        #expect(retry.replicationFactor == -1)
        let topics = retry.tiers.map(\.topic) + [retry.deadLetterTopic]
        let specifications = TopicProvisioner.specifications(
            topics, partitions: 3, replicationFactor: retry.replicationFactor)
        #expect(specifications.map(\.name) == topics)
        #expect(specifications.allSatisfy { $0.replicationFactor == -1 && $0.partitions == 3 })
    }

    @Test("retry.replication_factor is what the side topics are created with")
    func configured() {
        let specifications = TopicProvisioner.specifications(
            ["affonso-relay.dlq.replayed"], partitions: 3, replicationFactor: 3)
        #expect(specifications.map(\.replicationFactor) == [3])
    }

    @Test("a replication factor other than -1 or 1...10000 is a configuration error", arguments: [0, -2, 10_001])
    func validated(factor: Int) {
        var retry = RetryConfiguration()
        retry.replicationFactor = factor
        let error = #expect(throws: RelayError.self) { try retry.validate() }
        #expect(error?.message.contains("retry.replication_factor is \(factor)") == true)
    }
}

/// At start the relay checks the side topics as they exist and warns about each that is missing or has fewer
/// replicas than it should.
@Suite("Side topic durability check", .timeLimit(.minutes(1)))
struct TopicDurabilityTests {
    static func cluster(brokers: Int, _ topics: [(String, Int)]) -> KafkaAdmin.ClusterDescription {
        KafkaAdmin.ClusterDescription(
            brokerCount: brokers,
            topics: topics.map { .init(name: $0.0, partitionCount: 3, replicationFactor: $0.1) })
    }

    @Test("with the broker's default, fewer replicas than min(3, brokers) is a warning that says what to change")
    func brokerDefault() {
        let warnings = TopicProvisioner.durabilityWarnings(
            ["retry", "dlq", "fine"], cluster: Self.cluster(brokers: 5, [("retry", 1), ("dlq", 2), ("fine", 3)]),
            replicationFactor: -1)
        #expect(warnings.count == 2)
        #expect(
            warnings.first?.hasPrefix("topic 'retry' has replication factor 1 and the cluster has 5 brokers") == true)
        #expect(warnings.first?.contains("raise its replication factor to 3 (kafka-reassign-partitions)") == true)
        #expect(warnings.last?.hasPrefix("topic 'dlq' has replication factor 2") == true)
        #expect(
            TopicProvisioner.durabilityWarnings(
                ["retry"], cluster: Self.cluster(brokers: 1, [("retry", 1)]), replicationFactor: -1
            ).isEmpty, "a single-broker cluster cannot do better")
    }

    @Test("with retry.replication_factor set, fewer replicas than it is a warning; a missing topic too")
    func configured() {
        let warnings = TopicProvisioner.durabilityWarnings(
            ["retry", "dlq"], cluster: Self.cluster(brokers: 3, [("retry", 1)]), replicationFactor: 2)
        #expect(
            warnings == [
                "topic 'retry' has replication factor 1 and retry.replication_factor is 2: a broker failure can lose "
                    + "the retry or dead-letter records it holds, and if min.insync.replicas exceeds 1 every write to "
                    + "it fails; raise its replication factor to 2 (kafka-reassign-partitions) or recreate it",
                "topic 'dlq' does not exist: records that fail cannot be retried or dead-lettered; run "
                    + "'affonso-relay topics ensure' or set retry.create_topics: true",
            ])
    }

    @Test("against the mock cluster: a side topic with one replica on three brokers is reported")
    func mockCluster() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        try cluster.createTopic("affonso-relay.dlq", partitions: 2)  // the mock creates it with one replica
        let warnings = await TopicProvisioner.checkDurability(
            ["affonso-relay.dlq"], bootstrapServers: cluster.bootstrapServers, properties: [:],
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        await cluster.close()
        #expect(warnings.count == 1)
        #expect(
            warnings.first?.hasPrefix(
                "topic 'affonso-relay.dlq' has replication factor 1 and the cluster has 3 brokers")
                == true, "\(warnings)")
    }
}
