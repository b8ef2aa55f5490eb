import KafkaClient
import Testing

/// What a consumer does after librdkafka raised a fatal error (as for a static member fenced by a newer instance).
@Suite(.timeLimit(.minutes(2)))
struct KafkaConsumerFatalErrorTests {
    /// How long the coordinator takes to answer once it stalls: a commit in flight waits that long.
    static let stall = Duration.seconds(8)

    @Test(
        "a fatal error ends the stream with a fatal error naming the group and the cause; close(timeout:) returns at its bound while a commit waits for the coordinator"
    )
    func fatalErrorWhileACommitWaits() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("fatal", partitions: 1)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers), logger: testLogger)
        _ = try await producer.send(topic: "fatal", key: nil, value: bytes("0"))
        await producer.close()
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                bootstrapServers: cluster.bootstrapServers, groupID: "fenced", topics: ["fatal"]),
            logger: testLogger)
        let record = try #require(try await consumer.nextBatch(maximum: 1)?.first)
        try consumer.storeOffset(topic: "fatal", partition: 0, offset: record.offset + 1)
        // The broker stalls: the commit of the stored offset waits for its answer.
        try cluster.setBroker(1, roundTripTime: Self.stall)
        let commit = Task { try? await consumer.commit() }
        try await Task.sleep(for: .milliseconds(300))

        try consumer.raiseFatalErrorForTesting("fenced by a newer instance")
        let error = await #expect(throws: KafkaError.self) { try await consumer.nextBatch(maximum: 1) }
        #expect(error?.isFatal == true)
        #expect(error?.code == .fatal)
        let message = error?.message ?? ""
        #expect(message.contains("group 'fenced'"), "\(message)")
        #expect(message.contains("test_fatal_error: fenced by a newer instance"), "\(message)")
        #expect(message.contains("Recreate the consumer"), "\(message)")

        let start = ContinuousClock.now
        let closed = await consumer.close(timeout: .seconds(1))
        let took = ContinuousClock.now - start
        print("fatal error while a commit waits: close(timeout: 1 s) returned \(closed) after \(took)")
        #expect(!closed, "the close waits for the commit in flight (else this test shows nothing)")
        #expect(took < .seconds(3), "close(timeout: 1 s) took \(took)")

        // The close goes on in the background and ends once the broker answered the commit.
        try cluster.setBroker(1, roundTripTime: .zero)
        #expect(await consumer.close(timeout: Self.stall + .seconds(10)), "the background close never ended")
        print("fatal error while a commit waits: the close ended \(ContinuousClock.now - start) after it began")
        _ = await commit.value
        await cluster.close()
    }
}
