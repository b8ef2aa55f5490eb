import Foundation
import KafkaClient
import Logging
import Synchronization
import Testing

/// Broker addresses of the stack (`scripts/stack start`, then source `.tools/stack.env`); nil when not running.
let kafkaBrokers: [String]? = ProcessInfo.processInfo.environment["KAFKA_BROKERS"].map {
    $0.split(separator: ",").map(String.init)
}

let kafkaSkipReason: Comment =
    "KAFKA_BROKERS is not set: run `scripts/stack start; set -a; source .tools/stack.env; set +a` and LD_LIBRARY_PATH=.tools/lib (or `make test`)"

let kafkaTestLogger: Logger = {
    var logger = Logger(label: "KafkaIntegrationTests")
    logger.logLevel = .warning
    return logger
}()

/// A unique name per test run, so tests never share topics or groups.
func uniqueName(_ prefix: String) -> String { "it.\(prefix).\(UInt32.random(in: 0...UInt32.max))" }

/// Creates a topic on the stack's broker (or on `brokers`).
func createKafkaTopic(_ name: String, partitions: Int, brokers: [String] = kafkaBrokers ?? []) async throws {
    let admin = try KafkaAdmin(bootstrapServers: brokers, logger: kafkaTestLogger)
    try await admin.ensureTopic(.init(name: name, partitions: partitions))
    await admin.close()
}

/// Produces `count` records whose value is their index, round robin over `partitions` by key.
func produceKafkaRecords(topic: String, range: Range<Int>, pause: Duration? = nil) async throws {
    let producer = try KafkaProducer(
        configuration: KafkaProducerConfiguration(bootstrapServers: kafkaBrokers ?? []),
        logger: kafkaTestLogger
    )
    for index in range {
        _ = try await producer.send(topic: topic, key: Array("key-\(index)".utf8), value: Array("\(index)".utf8))
        if let pause { try await Task.sleep(for: pause) }
    }
    await producer.close()
}

/// A consumer configuration for Tansu (the stack's, or `brokers`): short session timeout, unique group.
func kafkaConsumerConfiguration(
    topic: String,
    group: String,
    brokers: [String] = kafkaBrokers ?? []
) -> KafkaConsumerConfiguration {
    var configuration = KafkaConsumerConfiguration(bootstrapServers: brokers, groupID: group, topics: [topic])
    configuration.sessionTimeout = .seconds(6)
    configuration.properties["heartbeat.interval.ms"] = "500"
    // A reader often subscribes before the relay under test created the topic (a dead-letter topic, a retry
    // tier); librdkafka looks again for a missing topic only at the metadata refresh, 5 minutes by default.
    configuration.properties["topic.metadata.refresh.interval.ms"] = "1000"
    return configuration
}

/// Iterates a consumer's messages in the background; `process` runs before a message is recorded.
final class KafkaCollector: Sendable {
    private let received = Mutex<[KafkaConsumerMessage]>([])
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ consumer: KafkaConsumer, process: @escaping @Sendable (KafkaConsumerMessage) async -> Void = { _ in }) {
        let started = Task { [self] in
            do {
                for try await message in consumer.messages {
                    await process(message)
                    self.received.withLock { $0.append(message) }
                }
            } catch {
                kafkaTestLogger.error("consumer failed: \(error)")
            }
        }
        task.withLock { $0 = started }
    }

    var messages: [KafkaConsumerMessage] { received.withLock { $0 } }

    func waitFor(count: Int, timeout: Duration = .seconds(60)) async -> Bool {
        await kafkaEventually(timeout: timeout) { self.messages.count >= count }
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes.
func kafkaEventually(timeout: Duration, _ condition: @Sendable () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await condition()
}

func partitions(_ topic: String, _ count: Int) -> Set<KafkaTopicPartition> {
    Set((0..<count).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) })
}
