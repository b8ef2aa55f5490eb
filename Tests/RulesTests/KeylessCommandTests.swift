import Foundation
import KafkaClient
import Logging
import Relay
import Testing

/// `dlq inspect` reads Kafka and never calls Affonso: it runs without the API key (against librdkafka's mock
/// cluster, in this process).
@Suite(
    "commands that need no API key (binary)",
    .enabled(if: FileManager.default.isExecutableFile(atPath: relayBinary), "affonso-relay is not built")
)
struct KeylessCommandTests {
    @Test("dlq inspect runs with AFFONSO_API_KEY unset")
    func dlqInspectWithoutKey() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("affonso-relay.dlq", partitions: 1)
        let config = try writeTemporaryConfig(
            """
            kafka: {brokers: [\(cluster.bootstrapServers.map { "\"\($0)\"" }.joined(separator: ", "))], topics: [t]}
            affonso: {api_key: "${AFFONSO_API_KEY}"}
            logging: {level: error}
            rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
            """)
        defer { removeTemporaryConfig(config) }
        let inspected = await relayResult(["dlq", "inspect", "--config", config], environment: [:])
        await cluster.close()
        let result = try inspected.get()
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput == "0 dead letters\n")
        let replay = try await runRelay(["dlq", "replay", "--config", config, "--dry-run"], environment: [:])
        #expect(replay.status == 2)
        #expect(replay.standardError.contains("environment variable 'AFFONSO_API_KEY' is not set"))
    }

    @Test("dlq inspect selects as replay does: --error-class, --rule, --since, and --limit counts what is selected")
    func dlqInspectSelects() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("affonso-relay.dlq", partitions: 1)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: Logger(label: "test"))
        let now = Date()
        // Offsets 0-3: mapping (rule a), validation (rule a), mapping (rule b, 3 days ago), mapping (rule a).
        let letters: [(ErrorClass, String, TimeInterval)] = [
            (.mapping, "a", 0), (.validation, "a", 0), (.mapping, "b", -3 * 86_400), (.mapping, "a", 0),
        ]
        for (index, (errorClass, rule, age)) in letters.enumerated() {
            let envelope = RetryEnvelope.failure(
                after: nil, record: RecordCoordinates(topic: "t", partition: 0, offset: Int64(index)), timestamp: nil,
                rule: rule, errorClass: errorClass, message: "m", status: nil, attempt: 1,
                notBefore: now.addingTimeInterval(age), now: now.addingTimeInterval(age))
            _ = try await producer.send(
                topic: "affonso-relay.dlq", key: nil, value: Array("{}".utf8), headers: envelope.headers(keeping: []))
        }
        await producer.close()
        let config = try writeTemporaryConfig(
            """
            kafka: {brokers: [\(cluster.bootstrapServers.map { "\"\($0)\"" }.joined(separator: ", "))], topics: [t]}
            affonso: {api_key: k}
            logging: {level: error}
            rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
            """)
        defer { removeTemporaryConfig(config) }
        func originals(_ options: [String]) async -> [Int] {
            guard let result = try? await runRelay(["dlq", "inspect", "--config", config, "--json"] + options) else {
                return [-1]
            }
            return result.standardOutput.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["original_offset"] as? Int
            }
        }
        let all = await originals([])
        let mapping = await originals(["--error-class", "mapping"])
        let ruleA = await originals(["--error-class", "mapping", "--rule", "a"])
        let recent = await originals(["--since", "1d"])
        let first = await originals(["--error-class", "mapping", "--limit", "2"])
        await cluster.close()
        #expect(all == [0, 1, 2, 3])
        #expect(mapping == [0, 2, 3])
        #expect(ruleA == [0, 3])
        #expect(recent == [0, 1, 3])
        #expect(first == [0, 2])
    }
}
