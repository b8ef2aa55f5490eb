import CRdKafka
import Testing

@testable import KafkaClient

/// The replication factor of created topics: `-1` (the broker's default) unless set, accepted by librdkafka, and
/// out-of-range factors refused before any request.
///
/// librdkafka's mock cluster (2.16) answers Metadata with controller id 0, which none of its brokers has, so its
/// CreateTopics never leaves the client ("Failed while waiting for controller"): the factor reaching a broker is
/// checked against the real broker in `IntegrationTests/KafkaAdminTests`.
@Suite(.timeLimit(.minutes(1)))
struct KafkaAdminTopicTests {
    @Test("a topic specification lets the broker choose the replication factor by default")
    func defaultIsBrokerDefault() {
        #expect(KafkaAdmin.TopicSpecification(name: "t").replicationFactor == -1)
        #expect(KafkaAdmin.brokerDefaultReplicationFactor == -1)
    }

    @Test("librdkafka accepts -1 and explicit factors for the CreateTopics request", arguments: [-1, 1, 3, 10_000])
    func accepted(factor: Int) throws {
        let topic = try KafkaAdmin.newTopic(
            .init(name: "side", partitions: 3, replicationFactor: factor, configs: ["retention.ms": "3600000"]))
        rd_kafka_NewTopic_destroy(topic)
    }

    @Test("a replication factor of 0, below -1 or above 10000 is refused", arguments: [0, -2, 40_000, Int.max])
    func refused(factor: Int) {
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaAdmin.newTopic(.init(name: "side", replicationFactor: factor))
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("replication factor of -1 (the broker's default) or 1 to 10000") == true)
    }

    @Test("an invalid factor fails at once against the mock cluster, before any request")
    func refusedBeforeRequest() async throws {
        let cluster = try KafkaMockCluster(brokers: 1)
        let admin = try KafkaAdmin(
            bootstrapServers: cluster.bootstrapServers, timeout: .seconds(20), logger: testLogger)
        let started = ContinuousClock.now
        await #expect(throws: KafkaError.self) {
            try await admin.createTopic(.init(name: "side.bad", replicationFactor: 0))
        }
        // Well before the 20 s the request would have waited for, even on a loaded machine.
        #expect(started.duration(to: .now) < .seconds(15))
        await admin.close()
        await cluster.close()
    }
}
