import Foundation
import RelayConfig
import Rules
import Testing

/// Numbers out of range in `relay.yaml` are errors at file:line:col that say what to do; none traps.
@Suite("relay.yaml numbers out of range")
struct ConfigRangeTests {
    static let rules = """
        rules:
          - name: r
            topics: [t]
            event:
              event_name: "'x'"
              customer_id: "payload.c"
        """

    /// The diagnostics of a configuration with `line` as its second line.
    func failures(_ line: String) -> [String] {
        do {
            _ = try RelayConfigLoader.load(
                text: "affonso: {api_key: k}\n" + line + "\n" + Self.rules, file: "relay.yaml", environment: [:])
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    static let tooLong: [String] = [
        "9999999h", "2562048h", "99999999999999999999999999999999h", String(repeating: "9", count: 400) + "s",
        "87600h1s", "1h" + String(repeating: "9999999h", count: 3),
    ]

    @Test("a duration over ten years is an error at its value, not a trap", arguments: tooLong)
    func durationTooLong(text: String) {
        let errors = failures("server: {shutdown_grace: \(text)}")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("relay.yaml:2:26: server.shutdown_grace is too long: '") == true)
        #expect(
            errors.first?.hasSuffix(
                "is more than 10 years, the longest duration accepted; use a value such as 30s, 5m or 1h") == true)
        #expect((errors.first?.count ?? 0) < 250)
    }

    @Test("affonso.timeout: 9999999h is an error, and ten years is still accepted")
    func timeout() throws {
        #expect(
            failures("kafka: {commit_interval: 9999999h}").first?.hasPrefix(
                "relay.yaml:2:26: kafka.commit_interval is too long") == true)
        let loaded = try RelayConfigLoader.load(
            text: "affonso: {api_key: k, timeout: 87600h}\n" + Self.rules, file: "relay.yaml", environment: [:])
        #expect(loaded.configuration.affonso.timeout == .seconds(87_600 * 3600))
    }

    @Test(
        "a number with more digits than an Int holds is out of range, with the bound",
        arguments: [String(repeating: "7", count: 400), "9223372036854775808", "-" + String(repeating: "1", count: 30)]
    )
    func hugeInteger(text: String) {
        let errors = failures("kafka: {max_record_bytes: \(text)}")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("relay.yaml:2:27: kafka.max_record_bytes is out of range: ") == true)
        #expect(
            errors.first?.contains(text.hasPrefix("-") ? "must be at least 1" : "must be at most 1000000000") == true)
        #expect((errors.first?.count ?? 0) < 200)
    }

    @Test(
        "an exponent or fraction is not a whole number",
        arguments: ["1e30", "1.5", "1e400", "0x10", "١٠"]
    )
    func notWhole(text: String) {
        #expect(
            failures("kafka: {max_record_bytes: \(text)}") == [
                "relay.yaml:2:27: kafka.max_record_bytes must be a whole number written in digits (such as 1048576), got '\(text)'"
            ])
    }

    @Test(
        "negative and zero sizes and counts are errors with the minimum",
        arguments: [
            ("kafka: {max_record_bytes: -5}", "relay.yaml:2:27: kafka.max_record_bytes must be at least 1, got -5"),
            ("delivery: {max_in_flight: -1}", "relay.yaml:2:27: delivery.max_in_flight must be at least 1, got -1"),
            ("retry: {max_attempts: 0}", "relay.yaml:2:23: retry.max_attempts must be at least 1, got 0"),
            (
                "retry: {max_attempts: 2000000}",
                "relay.yaml:2:23: retry.max_attempts must be at most 1000000, got 2000000"
            ),
            (
                "kafka: {max_record_bytes: 2000000000}",
                "relay.yaml:2:27: kafka.max_record_bytes must be at most 1000000000, got 2000000000"
            ),
        ]
    )
    func negative(line: String, expected: String) {
        #expect(failures(line) == [expected])
    }

    @Test(
        "kafka.brokers entries librdkafka could never reach are refused at their line",
        arguments: [
            ("'localhost:99999'", "the port must be a number from 1 to 65535"),
            ("'localhost:0'", "the port must be a number from 1 to 65535"),
            ("'localhost:x'", "the port must be a number from 1 to 65535"),
            ("''", "a host is missing"),
            ("':9092'", "a host is missing"),
            ("'a:9092,,b:9092'", "a host is missing"),
            ("'kafka 0:9092'", "a host has spaces or slashes"),
            ("'::1:9092'", "write an IPv6 address in brackets, such as [::1]:9092"),
            ("'[::1:9092'", "an IPv6 address is not closed with ]"),
        ]
    )
    func badBroker(entry: String, problem: String) {
        let errors = failures("kafka: {brokers: [\(entry)]}")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("relay.yaml:2:19: kafka.brokers[0] must be host:port") == true, "\(errors)")
        #expect(errors.first?.hasSuffix(problem) == true, "\(errors)")
    }

    @Test(
        "kafka.brokers entries as librdkafka takes them are accepted",
        arguments: [
            "localhost:9092", "kafka-0.kafka.svc:9092", "10.0.0.5", "[::1]:9092", "[fe80::1]",
            "SASL_SSL://broker.example.com:9093", "a:9092, b:9092",
        ]
    )
    func goodBroker(entry: String) {
        #expect(failures("kafka: {brokers: ['\(entry)']}") == [])
    }

    @Test("kafka.topics entries that cannot be topic names are refused at their line")
    func badTopic() {
        #expect(
            failures("kafka: {topics: [orders, 'billing.*']}") == [
                "relay.yaml:2:26: kafka.topics[1] 'billing.*' is not a Kafka topic name: it contains '*'; Kafka allows "
                    + "only letters a-z and A-Z, digits, '.', '_' and '-' (a pattern goes in kafka.topic_patterns)"
            ])
    }

    @Test("a list or mapping among a rule's topics is one error each, with no follow-on 'empty topic name'")
    func nestedRuleTopic() {
        var errors: [String] = []
        do {
            _ = try RelayConfigLoader.load(
                text: """
                    affonso: {api_key: k}
                    rules: [{name: r, topics: [[t], {a: 1}, t], event: {event_name: "'x'", customer_id: "payload.c"}}]
                    """, file: "relay.yaml", environment: [:])
        } catch {
            errors = error.errors.map(\.description)
        }
        #expect(
            errors == [
                "relay.yaml:2:28: rule 'r' topic must be a single value, not a list",
                "relay.yaml:2:33: rule 'r' topic must be a single value, not a mapping",
            ])
    }

    @Test("negative durations are not durations")
    func negativeDuration() {
        #expect(
            failures("server: {shutdown_grace: -5s}") == [
                "relay.yaml:2:26: server.shutdown_grace must be a duration such as 250ms, 30s, 5m or 1h, got '-5s'"
            ])
    }

    /// A zero timeout would time out every request (users may read it as "no timeout"): refused where it is
    /// written, as `run` would refuse it at start.
    @Test("affonso.timeout must be more than 0")
    func zeroTimeout() {
        for zero in ["0s", "0ms"] {
            var errors: [String] = []
            do {
                _ = try RelayConfigLoader.load(
                    text: "affonso: {api_key: k, timeout: \(zero)}\n" + Self.rules, file: "relay.yaml", environment: [:]
                )
            } catch {
                errors = error.errors.map(\.description)
            }
            #expect(errors.count == 1)
            #expect(
                errors.first?.hasPrefix("relay.yaml:1:32: affonso.timeout must be more than 0") == true, "\(errors)")
        }
    }

    @Test("affonso.base_url: a password in it is refused where it is written, and not repeated")
    func baseURLWithPassword() {
        var errors: [String] = []
        do {
            _ = try RelayConfigLoader.load(
                text: "affonso: {api_key: k, base_url: 'https://ops:hunter2@api.affonso.io'}\n" + Self.rules,
                file: "relay.yaml", environment: [:])
        } catch {
            errors = error.errors.map(\.description)
        }
        #expect(
            errors == [
                "relay.yaml:1:33: affonso.base_url 'https://<redacted>@api.affonso.io' carries a user or password; "
                    + "remove it (the API key goes in api_key or api_key_file, and rotate a password that was written here)"
            ])
    }

    @Test("affonso.max_retry_after: default 60s, read, mapped onto the client, and bounded")
    func maximumRetryAfter() throws {
        let loaded = try RelayConfigLoader.load(
            text: "affonso: {api_key: k}\n" + Self.rules, file: "relay.yaml", environment: [:])
        #expect(loaded.configuration.affonso.maximumRetryAfter == .seconds(60))
        let set = try RelayConfigLoader.load(
            text: "affonso: {api_key: k, max_retry_after: 30s}\n" + Self.rules, file: "relay.yaml", environment: [:])
        #expect(set.configuration.affonso.maximumRetryAfter == .seconds(30))
        let service = try set.configuration.serviceConfiguration(file: "relay.yaml")
        #expect(service.affonso.maximumRetryAfter == .seconds(30))
        for bad in ["0s", "25h"] {
            let errors: [String]
            do {
                _ = try RelayConfigLoader.load(
                    text: "affonso: {api_key: k, max_retry_after: \(bad)}\n" + Self.rules, file: "relay.yaml",
                    environment: [:])
                errors = []
            } catch {
                errors = error.errors.map(\.description)
            }
            #expect(errors.count == 1)
            #expect(
                errors.first?.hasPrefix("relay.yaml:1:40: affonso.max_retry_after must be more than 0 and at most 24h")
                    == true)
        }
    }
}

@Suite("retry.replication_factor")
struct ReplicationFactorConfigTests {
    func load(_ retry: String) throws(ConfigError) -> RelayConfiguration {
        try RelayConfigLoader.load(
            text: "affonso: {api_key: k}\n" + retry + "\n" + ConfigRangeTests.rules, file: "relay.yaml",
            environment: [:]
        ).configuration
    }

    @Test("default -1 (the broker's default), read and mapped onto the pipeline's retry settings")
    func values() throws {
        #expect(try load("").retry.replicationFactor == -1)
        #expect(try load("").serviceConfiguration(file: "r").pipeline.retry.replicationFactor == -1)
        let three = try load("retry: {replication_factor: 3}")
        #expect(three.retry.replicationFactor == 3)
        #expect(try three.serviceConfiguration(file: "r").pipeline.retry.replicationFactor == 3)
    }

    @Test(
        "0, below -1 and above 10000 are errors at the value",
        arguments: [
            (
                "0",
                "relay.yaml:2:29: retry.replication_factor must be -1 (the broker's default.replication.factor) or a factor from 1 to 10000, got 0"
            ),
            ("-2", "relay.yaml:2:29: retry.replication_factor must be at least -1, got -2"),
            ("40000", "relay.yaml:2:29: retry.replication_factor must be at most 10000, got 40000"),
        ]
    )
    func invalid(value: String, expected: String) {
        do {
            _ = try load("retry: {replication_factor: \(value)}")
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.map(\.description) == [expected])
        }
    }
}
