import KafkaClient
import Testing

@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .timeLimit(.minutes(1)))
struct KafkaAdminTests {
    @Test func ensureTopicCreatesOnceAndListTopicsShowsPartitions() async throws {
        let admin = try KafkaAdmin(bootstrapServers: kafkaBrokers ?? [], logger: kafkaTestLogger)
        let name = uniqueName("admin")
        let topic = KafkaAdmin.TopicSpecification(name: name, partitions: 3, configs: ["retention.ms": "3600000"])
        #expect(try await admin.ensureTopic(topic))
        #expect(try await admin.ensureTopic(topic) == false)
        let again = await #expect(throws: KafkaError.self) { try await admin.createTopic(topic) }
        #expect(again?.code == .topicAlreadyExists)
        let listed = try await admin.listTopics()
        #expect(listed.first { $0.name == name }?.partitionCount == 3)
        await admin.close()
        let closed = await #expect(throws: KafkaError.self) { try await admin.listTopics() }
        #expect(closed?.code == .closed)
    }

    @Test func replicationFactorReachesTheBroker() async throws {
        let admin = try KafkaAdmin(bootstrapServers: kafkaBrokers ?? [], logger: kafkaTestLogger)
        // -1: the broker's default.replication.factor (what the relay's side topics get by default).
        let byDefault = uniqueName("admin-rf-default")
        #expect(try await admin.ensureTopic(.init(name: byDefault, partitions: 2)))
        // An explicit factor is what the broker records (Tansu accepts any factor and reports it).
        let explicit = uniqueName("admin-rf-2")
        try await admin.createTopic(.init(name: explicit, partitions: 1, replicationFactor: 2))
        let listed = try await admin.listTopics()
        #expect((listed.first { $0.name == byDefault }?.replicationFactor ?? 0) >= 1)
        #expect(listed.first { $0.name == explicit }?.replicationFactor == 2)
        await admin.close()
    }
}
