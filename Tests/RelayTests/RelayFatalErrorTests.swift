import AffonsoAPI
import KafkaClient
import Logging
import Rules
import Testing

@testable import Relay

/// `RelayService.run` after its consumer failed fatally, against librdkafka's mock cluster: two brokers, the source
/// partition led by broker 1 and the group coordinated by broker 2, so that the coordinator can stall (a commit in
/// flight waits for it) while records still arrive.
@Suite(.timeLimit(.minutes(2)))
struct RelayFatalErrorTests {
    /// `server.shutdown_grace` (the drain timeout) of the relay under test.
    static let grace = Duration.seconds(3)
    /// How long the stalled coordinator takes to answer: the commit in flight waits that long.
    static let stall = Duration.seconds(20)

    @Test(
        "a fatal consumer error while a commit waits for the coordinator: run throws it within the grace, logs it with what follows, and commits only completed records"
    )
    func fatalErrorWhileACommitWaits() async throws {
        let cluster = try KafkaMockCluster(brokers: 2)
        let group = "fatal-\(UInt32.random(in: 0...UInt32.max))"
        var configuration = RelayServiceConfiguration(
            consumer: KafkaConsumerConfiguration(
                bootstrapServers: cluster.bootstrapServers, groupID: group, topics: ["orders"]),
            producer: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            affonso: AffonsoClientConfiguration(credentials: .apiKey("sk_test_unused")),
            pipeline: DeliveryPipelineConfiguration())
        configuration.createTopics = false
        configuration.pipeline.drainTimeout = Self.grace
        for topic in configuration.relayTopics { try cluster.createTopic(topic, partitions: 1) }
        try cluster.createTopic("orders", partitions: 1)
        try cluster.setLeader(topic: "orders", partition: 0, broker: 1)
        try cluster.setCoordinator(ofGroup: group, broker: 2)
        // No rule reads `orders`: each record is skipped, i.e. complete, and its offset committed.
        let compilation = RuleSet.compile([
            RuleDefinition(
                name: "paid", topics: ["billing"],
                event: [(field: "event_name", expression: "'paid'"), (field: "customer_id", expression: "'c'")])
        ])
        let rules = try #require(compilation.ruleSet, "\(compilation.errors.map(\.message))")
        // The relay's own JSON lines, as an operator reads them.
        let lines = LogHandlerTests.Lines()
        let logger = Logger(label: "affonso-relay") {
            JSONLogHandler(label: $0, level: .warning, output: lines.output())
        }
        let relay = try RelayService(configuration: configuration, rules: rules, logger: logger)
        let run = Task { () -> (any Error)? in
            do {
                try await relay.run()
                return nil
            } catch {
                return error
            }
        }
        let partition = KafkaTopicPartition(topic: "orders", partition: 0)
        let admin = try KafkaAdmin(
            bootstrapServers: cluster.bootstrapServers, timeout: .seconds(5), logger: logger)
        @Sendable func committed() async -> Int64? {
            try? await admin.committedOffsets(group: group, partitions: [partition])[partition]
        }
        try await produce(cluster, count: 3)
        #expect(await eventually(timeout: .seconds(60)) { await committed() == 3 }, "the first three were committed")

        // The coordinator stalls; one more record is skipped, and the commit of its offset waits for the answer.
        try cluster.setBroker(2, roundTripTime: Self.stall)
        try await produce(cluster, count: 1)
        try await Task.sleep(for: .seconds(1))
        let consumer = try #require(relay.consumer.withLock { $0 })
        let failed = ContinuousClock.now
        #expect(relay.isLive)
        try consumer.raiseFatalErrorForTesting("fenced by a newer instance")
        // `/livez` fails while the consumer closes, not only once the process is gone.
        let liveFailed = await eventually(timeout: Self.grace) { !relay.isLive }
        let error = await run.value
        let took = ContinuousClock.now - failed
        print("relay fatal error test: run threw \(took) after the fatal error (grace \(Self.grace))")

        let kafkaError = try #require(error as? KafkaError, "run threw \(String(describing: error))")
        #expect(kafkaError.isFatal)
        #expect(liveFailed, "isLive went false within the grace after the fatal error")
        #expect(!relay.isLive)
        #expect(kafkaError.message.contains("fenced by a newer instance"), "\(kafkaError.message)")
        #expect(took < Self.grace + .seconds(3), "run ended \(took) after the fatal error; the grace is \(Self.grace)")
        let explained = lines.all.filter { $0.contains("cannot go on; the relay exits") }
        #expect(
            explained.count == 1, "one error says what happened and what follows:\n\(lines.all.joined(separator: "\n"))"
        )
        #expect(
            explained.allSatisfy { $0.contains("\"level\":\"error\"") && $0.contains("fenced by a newer instance") })

        try cluster.setBroker(2, roundTripTime: .zero)
        let final = await committed()
        #expect(final == 3 || final == 4, "committed \(String(describing: final)): the four records were complete")
        await admin.close()
        await cluster.close()
    }

    private func produce(_ cluster: KafkaMockCluster, count: Int) async throws {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: Logger(label: "test"))
        for index in 0..<count {
            _ = try await producer.send(topic: "orders", key: nil, value: Array("{\"n\":\(index)}".utf8))
        }
        await producer.close()
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
private func eventually(timeout: Duration, _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
