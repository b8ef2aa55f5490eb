import Foundation
import KafkaClient
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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "keyless-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("relay.yaml").path
        try """
        kafka: {brokers: [\(cluster.bootstrapServers.map { "\"\($0)\"" }.joined(separator: ", "))], topics: [t]}
        affonso: {api_key: "${AFFONSO_API_KEY}"}
        logging: {level: error}
        rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let inspected = await relayResult(["dlq", "inspect", "--config", config], environment: [:])
        await cluster.close()
        let result = try inspected.get()
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput == "0 dead letters\n")
        let replay = try await runRelay(["dlq", "replay", "--config", config, "--dry-run"], environment: [:])
        #expect(replay.status == 2)
        #expect(replay.standardError.contains("environment variable 'AFFONSO_API_KEY' is not set"))
    }
}
