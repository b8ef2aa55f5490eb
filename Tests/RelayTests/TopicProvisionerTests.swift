import KafkaClient
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
