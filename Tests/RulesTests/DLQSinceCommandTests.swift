import Foundation
import Testing

/// `dlq replay --since` takes an RFC 3339 time or a duration ago as relay.yaml writes durations; anything else, and
/// a time in the future (which would select nothing), is refused before the broker is contacted.
@Suite(
    "dlq replay --since (binary)",
    .enabled(if: FileManager.default.isExecutableFile(atPath: relayBinary), "affonso-relay is not built")
)
struct DLQSinceCommandTests {
    /// No broker listens on port 9: a refused --since never gets that far.
    static let config = """
        kafka: {brokers: ["127.0.0.1:9"], topics: [t]}
        affonso: {api_key: sk_test_unused}
        logging: {level: error}
        rules: [{name: r, topics: [t], event: {event_name: "'x'", customer_id: "payload.c"}}]
        """

    @Test(
        "absurd values are refused with what is accepted",
        arguments: [
            ("1e30s", "is neither an RFC 3339 time"),
            ("nanh", "is neither an RFC 3339 time"),
            ("infh", "is neither an RFC 3339 time"),
            ("99999999999h", "is neither an RFC 3339 time"),
            ("yesterday", "is neither an RFC 3339 time"),
            ("-5h", "is neither an RFC 3339 time"),
            ("9999-12-31T23:59:59Z", "is in the future, so no dead letter would be selected"),
        ]
    )
    func refused(since: String, message: String) async throws {
        let config = try writeTemporaryConfig(Self.config)
        defer { removeTemporaryConfig(config) }
        let result = try await runRelay(["dlq", "replay", "--config", config, "--dry-run", "--since=\(since)"])
        #expect(result.status == 2)
        #expect(result.standardError.contains(message), "\(result.standardError)")
    }

    @Test("a duration as relay.yaml writes them is taken: the command goes on to the broker")
    func accepted() async throws {
        let config = try writeTemporaryConfig(Self.config)
        defer { removeTemporaryConfig(config) }
        let result = try await runRelay(["dlq", "replay", "--config", config, "--dry-run", "--since", "1h30m"])
        #expect(result.status != 0)
        #expect(!result.standardError.contains("--since"), "\(result.standardError)")
        #expect(result.standardError.contains("127.0.0.1:9"), "\(result.standardError)")
    }
}
