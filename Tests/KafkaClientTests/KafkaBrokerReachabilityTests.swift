import KafkaClient
import Testing

/// `KafkaConsumer.brokersReachable`, which the relay's `/readyz` reads: false while every broker is down, true
/// again once one answers.
@Suite(.timeLimit(.minutes(2)))
struct KafkaBrokerReachabilityTests {
    @Test func consumerReportsBrokersDownAndUpAgain() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("events", partitions: 1)
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServers, groupID: "reachability", topics: ["events"])
        configuration.properties["reconnect.backoff.ms"] = "100"
        configuration.properties["reconnect.backoff.max.ms"] = "500"
        configuration.properties["socket.timeout.ms"] = "1000"
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger)
        let collector = Collector(consumer)
        #expect(await eventually(timeout: .seconds(30)) { !consumer.assignment.isEmpty })
        #expect(consumer.brokersReachable, "reachable while the broker serves the group")

        // The broker stops answering in time rather than going down: one brought up again must bind its old port,
        // and when another socket took it meanwhile, librdkafka aborts the whole test process (seen in CI).
        try cluster.setBroker(1, roundTripTime: .seconds(10))
        let down = await eventually(timeout: .seconds(30)) { !consumer.brokersReachable }
        #expect(down, "all brokers down turns brokersReachable false")

        try cluster.setBroker(1, roundTripTime: .zero)
        let up = await eventually(timeout: .seconds(30)) { consumer.brokersReachable }
        #expect(up, "a broker answering again turns it true")

        collector.cancel()
        await consumer.close()
        await cluster.close()
    }

    @Test func consumerOfADeadAddressIsNeverReachable() async throws {
        let configuration = KafkaConsumerConfiguration(
            bootstrapServers: ["127.0.0.1:1"], groupID: "dead", topics: ["events"])
        let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger)
        let down = await eventually(timeout: .seconds(20)) { !consumer.brokersReachable }
        #expect(down, "nothing listens on 127.0.0.1:1")
        try await Task.sleep(for: .seconds(2))
        #expect(!consumer.brokersReachable, "stays unreachable while no broker answers")
        await consumer.close()
    }
}
