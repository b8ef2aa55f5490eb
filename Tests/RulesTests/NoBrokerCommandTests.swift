import Foundation
import Testing

/// Commands that need Kafka, pointed at an address where nothing listens: one clear line within the bounded wait,
/// exit 1, and librdkafka's lines only through the relay's JSON logger (no raw `%3|…` lines).
@Suite(
    "commands against a broker that does not answer (binary)",
    .enabled(if: FileManager.default.isExecutableFile(atPath: relayBinary), "affonso-relay is not built")
)
struct NoBrokerCommandTests {
    @Test(
        "topics ensure, dlq inspect, dlq replay and rules tap fail within the 10 s wait, naming the address",
        arguments: [
            ["topics", "ensure"], ["dlq", "inspect"], ["dlq", "replay", "--dry-run"], ["rules", "tap", "--topic", "t"],
        ])
    func noBroker(command: [String]) async throws {
        let config = try writeTemporaryConfig(
            """
            kafka: {brokers: ["127.0.0.1:1"], topics: [t]}
            affonso: {api_key: sk_test_unused}
            logging: {format: json}
            rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
            """)
        defer { removeTemporaryConfig(config) }
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await runRelay(command + ["--config", config], environment: [:])
        let elapsed = clock.now - start
        #expect(result.status == 1)
        // The 10 s wait plus the debug binary's start and exit: 10 s alone, up to 29 s seen while other suites load
        // both cores. The bound still fails a wait that librdkafka's own timeouts would make a minute or longer.
        #expect(elapsed < .seconds(45), "took \(elapsed)")
        let lines = result.standardError.split(separator: "\n")
        #expect(
            lines.last
                == "affonso-relay: no Kafka broker answered at 127.0.0.1:1 within 10s; check kafka.brokers and the network"
        )
        // Everything before the last line is the JSON logger's. librdkafka retries about 20 times a second; the
        // failure is logged once per 10 s (twice when the wait ends just past the window), the repeat with its count.
        #expect(lines.dropLast().allSatisfy { $0.hasPrefix("{\"ts\":") }, "\(result.standardError)")
        let failures = lines.filter { $0.contains("Connect to ipv4#127.0.0.1:1 failed") }
        #expect((1...2).contains(failures.count), "\(failures)")
        #expect(failures.dropFirst().allSatisfy { $0.contains("more times in the last 10s)") }, "\(failures)")
    }
}
