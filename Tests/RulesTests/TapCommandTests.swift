import Foundation
import KafkaClient
import Logging
import Testing

/// `rules tap` against librdkafka's mock cluster (in this process): live records printed in the `rules apply`
/// output format, with a throwaway group that commits nothing.
@Suite(
    "rules tap (binary)",
    .enabled(if: FileManager.default.isExecutableFile(atPath: relayBinary), "affonso-relay is not built"),
    .timeLimit(.minutes(2))
)
struct TapCommandTests {
    static let values = [
        #"{"kind":"sale","c":"cus_1"}"#,
        #"{"kind":"other","c":"cus_2"}"#,
        #"{"kind":"sale","c":"#,
    ]

    /// A mock cluster with topic `t` holding the three records, and a relay.yaml pointing at it.
    func setUp(_ directory: URL) async throws -> (KafkaMockCluster, String) {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("t", partitions: 1)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: Logger(label: "tap-test"))
        for (index, value) in Self.values.enumerated() {
            _ = try await producer.send(topic: "t", key: Array("k\(index)".utf8), value: Array(value.utf8))
        }
        await producer.close()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("relay.yaml").path
        try """
        kafka: {brokers: [\(cluster.bootstrapServers.map { "\"\($0)\"" }.joined(separator: ", "))], topics: [t]}
        affonso: {api_key: "${AFFONSO_API_KEY}"}
        logging: {level: info, format: json}
        rules:
          - name: r
            topics: [t]
            match: payload.kind == 'sale'
            event: {event_name: "'x'", customer_id: "payload.c"}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return (cluster, config)
    }

    func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("tap-\(UInt64.random(in: 0...UInt64.max))")
    }

    @Test("prints one rules apply line per record, sends nothing (no API key) and commits nothing")
    func tapPrintsApplyLines() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cluster, config) = try await setUp(directory)
        let tapped = await relayResult(
            ["rules", "tap", "--config", config, "--topic", "t", "--idle", "1"], environment: [:])
        let result = try tapped.get()
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.standardOutput)")
        // The same records through `rules apply` give the same lines (its error names the input line, not the
        // record, so the decode error is compared by class).
        let input = Self.values.enumerated().map { index, value in
            let member =
                index == 2 ? "\"value_base64\": \"\(Data(value.utf8).base64EncodedString())\"" : "\"value\": \(value)"
            return "{\(member), \"key\": \"k\(index)\", \"partition\": 0, \"offset\": \(index)}"
        }.joined(separator: "\n")
        let applied = try await runRelay(["rules", "apply", "--config", config, "--topic", "t"], input: input + "\n")
        let expected = applied.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix(#"{"results":[{"rule":"r","event":{"#) == true, "\(lines)")
        #expect(lines.first?.contains(#""customer_id":"cus_1""#) == true, "\(lines)")
        #expect(lines.first == expected.first)
        #expect(lines.dropFirst().first == #"{"skipped":true}"#)
        #expect(lines.dropFirst(2).first?.hasPrefix(#"{"error":{"class":"decode","message":"#) == true, "\(lines)")

        // The tap's group (named in its log) committed nothing: a consumer of that group starts at offset 0.
        let group = try #require(
            result.standardError.firstMatch(of: /affonso-relay\.reader\.[0-9]+/).map { String($0.output) },
            "\(result.standardError)")
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServers, groupID: group, topics: ["t"])
        configuration.autoOffsetReset = .earliest
        configuration.autoCommitInterval = nil
        let consumer = try KafkaConsumer(configuration: configuration, logger: Logger(label: "tap-test"))
        // A fourth record: had the tap committed (offset 3), the group would start there; it must start at 0.
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: Logger(label: "tap-test"))
        _ = try await producer.send(topic: "t", key: nil, value: Array(#"{"kind":"other"}"#.utf8))
        await producer.close()
        let first = try await withThrowingTaskGroup(of: Int64?.self) { tasks in
            tasks.addTask {
                for try await message in consumer.messages { return message.offset }
                return nil
            }
            tasks.addTask {
                try? await Task.sleep(for: .seconds(60))
                await consumer.close()
                return nil
            }
            let first = try await tasks.next() ?? nil
            tasks.cancelAll()
            return first
        }
        await consumer.close()
        await cluster.close()
        #expect(first == 0, "the tap's group committed offsets: the next consumer started at \(first ?? -1)")
    }

    @Test("--from end prints only records produced after the tap joined")
    func fromEnd() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cluster, config) = try await setUp(directory)
        let tap = Task.detached {
            try await runRelay(
                ["rules", "tap", "--config", config, "--topic", "t", "--from", "end", "--limit", "1", "--idle", "30"],
                environment: [:])
        }
        // However long the tap takes to join: a new record every second until it has printed one and exited.
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: Logger(label: "tap-test"))
        let producing = Task {
            for _ in 0..<45 where !Task.isCancelled {
                _ = try? await producer.send(topic: "t", key: nil, value: Array(#"{"kind":"other"}"#.utf8))
                try? await Task.sleep(for: .seconds(1))
            }
        }
        let result = await tap.result
        producing.cancel()
        _ = await producing.value
        await producer.close()
        await cluster.close()
        let run = try result.get()
        #expect(run.status == 0, "\(run.standardError)")
        // One of the records produced after it joined, not the event record that was there before.
        #expect(run.standardOutput == "{\"skipped\":true}\n")
    }

    @Test("--limit stops after that many records; bad flags exit 2 with one line")
    func limitAndBadFlags() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cluster, config) = try await setUp(directory)
        let tapped = await relayResult(
            ["rules", "tap", "--config", config, "--topic", "t", "--limit", "2"], environment: [:])
        await cluster.close()
        let result = try tapped.get()
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.split(separator: "\n").count == 2, "\(result.standardOutput)")
        for flags in [["--limit", "0"], ["--idle", "-1"], ["--from", "middle"]] {
            let bad = try await runRelay(
                ["rules", "tap", "--config", config, "--topic", "t"] + flags, environment: [:])
            #expect(bad.status == 2, "\(flags)")
            #expect(bad.standardOutput.isEmpty)
            #expect(bad.standardError.split(separator: "\n").count == 1, "\(flags): \(bad.standardError)")
        }
    }
}
