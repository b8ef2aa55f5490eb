import Foundation
import RelayConfig
import Rules
import Testing

@Suite("relay.yaml loading")
struct ConfigLoadingTests {
    static let rules = """
        rules:
          - name: r
            topics: [t]
            event:
              event_name: "'x'"
              customer_id: "payload.c"
        """

    func load(
        _ text: String, environment: [String: String] = ["AFFONSO_API_KEY": "sk_test_secret"]
    ) throws(ConfigError)
        -> RelayConfigLoader.Loaded
    {
        try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: environment)
    }

    /// The diagnostics of a configuration that must fail.
    func failures(_ text: String, environment: [String: String] = ["AFFONSO_API_KEY": "k"]) -> [String] {
        do {
            _ = try load(text, environment: environment)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test("defaults of SPEC §2, durations and environment expansion")
    func defaults() throws {
        let loaded = try load(
            """
            affonso:
              api_key: ${AFFONSO_API_KEY}
              timeout: 250ms
            retry:
              tiers: [{topic: r1, delay: 30s}, {topic: r2, delay: 5m}, {topic: r3, delay: 1h}]
            """ + "\n" + Self.rules
        )
        let configuration = loaded.configuration
        #expect(configuration.affonso.apiKey == "sk_test_secret")
        #expect(configuration.affonso.timeout == .milliseconds(250))
        #expect(configuration.retry.tiers.map(\.delay) == [.seconds(30), .seconds(300), .seconds(3600)])
        #expect(configuration.kafka.groupID == "affonso-relay")
        #expect(configuration.kafka.maximumRecordBytes == 1_048_576)
        #expect(configuration.kafka.commitInterval == .milliseconds(100))
        #expect(configuration.delivery.maximumInFlight == 256)
        #expect(configuration.delivery.ordering == .key)
        #expect(configuration.server.shutdownGrace == .seconds(25))
        #expect(configuration.retry.deadLetterTopic == "affonso-relay.dlq")
        #expect(loaded.ruleSet.ruleNames == ["r"])
        #expect(!"\(configuration.affonso)".contains("sk_test_secret"))
    }

    @Test("affonso.rate_limit.scope is fleet by default; pod alone keeps the plan's limit; a typo is an error")
    func rateLimitScope() throws {
        let plain = try load("affonso: {api_key: k}\n" + Self.rules).configuration
        #expect(plain.affonso.rateLimitScope == .fleet)
        #expect(try plain.serviceConfiguration(file: "r").affonso.rateLimitScope == .fleet)
        let pod = try load("affonso: {api_key: k, rate_limit: {scope: pod}}\n" + Self.rules).configuration
        #expect(pod.affonso.rateLimitScope == .pod)
        #expect(pod.affonso.rateLimit == nil)
        #expect(try pod.serviceConfiguration(file: "r").affonso.rateLimitScope == .pod)
        let both = try load("affonso: {api_key: k, rate_limit: {per_minute: 60, scope: fleet}}\n" + Self.rules)
        #expect(both.configuration.affonso.rateLimit?.perMinute == 60)
        let typo = failures("affonso: {api_key: k, rate_limit: {scope: fleeet}}\n" + Self.rules)
        #expect(typo.count == 1 && typo.first?.contains("did you mean 'fleet'") == true, "\(typo)")
        #expect(failures("affonso: {api_key: k, rate_limit: {burst: 5, scope: pod}}\n" + Self.rules).count == 1)
    }

    @Test("kafka.commit_interval spaces the relay's commits")
    func commitInterval() throws {
        let loaded = try load("kafka: {commit_interval: 250ms}\naffonso: {api_key: k}\n" + Self.rules)
        #expect(loaded.configuration.kafka.commitInterval == .milliseconds(250))
        let service = try loaded.configuration.serviceConfiguration(file: "relay.yaml")
        #expect(service.pipeline.commitInterval == .milliseconds(250))
        #expect(failures("kafka: {commit_interval: soon}\naffonso: {api_key: k}\n" + Self.rules).count == 1)
    }

    @Test("the consumer deals partitions out round-robin and holds 64 MiB of records (1 MiB prefetched), unless set")
    func consumerDefaults() throws {
        let plain = try load("affonso: {api_key: k}\n" + Self.rules).configuration.serviceConfiguration(file: "r")
        #expect(plain.consumer.partitionAssignmentStrategy == .roundRobin)
        #expect(plain.consumer.maximumBufferedBytes == 64 << 20)
        #expect(plain.consumer.prefetchBytes == 1 << 20)
        let custom = try load(
            """
            kafka: {client_properties: {partition.assignment.strategy: cooperative-sticky, \
            queued.max.messages.kbytes: "4096"}}
            affonso: {api_key: k}

            """ + Self.rules
        ).configuration.serviceConfiguration(file: "r")
        #expect(custom.consumer.properties["partition.assignment.strategy"] == "cooperative-sticky")
        #expect(custom.consumer.properties["queued.max.messages.kbytes"] == "4096")
        #expect(custom.producer.properties["queued.max.messages.kbytes"] == nil, "a consumer-only property")
    }

    @Test("the producer takes any record the relay accepts, with the relay's headers on top, unless set")
    func producerRecordSize() throws {
        let plain = try load("affonso: {api_key: k}\n" + Self.rules).configuration.serviceConfiguration(file: "r")
        #expect(plain.producer.properties["message.max.bytes"] == String(1_048_576 + 16_384))
        let large = try load("kafka: {max_record_bytes: 5000000}\naffonso: {api_key: k}\n" + Self.rules)
            .configuration.serviceConfiguration(file: "r")
        #expect(large.producer.properties["message.max.bytes"] == String(5_000_000 + 16_384))
        let set = try load(
            "kafka: {client_properties: {message.max.bytes: \"2000000\"}}\naffonso: {api_key: k}\n" + Self.rules
        ).configuration.serviceConfiguration(file: "r")
        #expect(set.producer.properties["message.max.bytes"] == "2000000")
    }

    @Test("delivery.max_buffered_bytes sets the one byte budget; an unreadable or absurd size is an error at its line")
    func bufferedBytes() throws {
        let sized = try load("affonso: {api_key: k}\ndelivery: {max_buffered_bytes: 128MiB}\n" + Self.rules)
        let service = try sized.configuration.serviceConfiguration(file: "r")
        #expect(service.consumer.maximumBufferedBytes == 128 << 20)
        #expect(service.consumer.prefetchBytes == 2 << 20)
        #expect(
            try load("affonso: {api_key: k}\ndelivery: {max_buffered_bytes: 100_000_000}\n" + Self.rules)
                .configuration.delivery.maximumBufferedBytes == 100_000_000)
        for bad in ["lots", "1KiB", "-5MiB", "99999999999999999999", "9000000000GiB", "64 parsecs"] {
            let errors = failures("affonso: {api_key: k}\ndelivery:\n  max_buffered_bytes: \(bad)\n" + Self.rules)
            #expect(errors.count == 1, "\(bad)")
            #expect(
                errors.first?.hasPrefix("relay.yaml:3:23: delivery.max_buffered_bytes must be") == true, "\(errors)")
        }
    }

    @Test("an unset variable is an error naming it and its line")
    func unsetVariable() {
        let errors = failures("affonso:\n  api_key: ${AFFONSO_API_KEY}\n" + Self.rules, environment: [:])
        #expect(
            errors.first
                == "relay.yaml:2:12: environment variable 'AFFONSO_API_KEY' is not set (referenced as ${AFFONSO_API_KEY}); export it, give a default with ${AFFONSO_API_KEY:-value}, or remove the reference"
        )
    }

    static let durations: [(String, Duration?)] = [
        ("250ms", .milliseconds(250)), ("30s", .seconds(30)), ("5m", .seconds(300)), ("1h", .seconds(3600)),
        ("1.5s", .milliseconds(1500)), ("1h30m", .seconds(5400)), ("30", nil), ("5 m", nil), ("soon", nil),
        ("1d", .seconds(86_400)), ("1x", nil),
    ]

    @Test("durations: 250ms 30s 5m 1h (and combinations); anything else is an error", arguments: durations)
    func duration(_ testCase: (String, Duration?)) {
        let text = "affonso: {api_key: k}\nserver: {shutdown_grace: \(testCase.0)}\n" + Self.rules
        do {
            let loaded = try load(text)
            #expect(loaded.configuration.server.shutdownGrace == testCase.1)
        } catch {
            #expect(testCase.1 == nil)
            #expect(
                error.errors.first?.description
                    == "relay.yaml:2:26: server.shutdown_grace must be a duration such as 250ms, 30s, 5m or 1h, got '\(testCase.0)'"
            )
        }
    }

    @Test("a rule topic the consumer does not subscribe to is a warning at the topic")
    func unsubscribedTopic() throws {
        let loaded = try load(
            "affonso: {api_key: k}\nkafka: {topics: [a], topic_patterns: [\"tenant-.*\"]}\n"
                + Self.rules.replacingOccurrences(of: "topics: [t]", with: "topics: [a, tenant-x, t]")
        )
        #expect(
            loaded.warnings.map(\.description) == [
                "relay.yaml:5:27: warning: rule 'r' reads topic 't', which is not in kafka.topics or "
                    + "kafka.topic_patterns; the relay will never receive its records"
            ]
        )
    }

    @Test("rules commands tolerate unset variables outside rules, not inside them")
    func rulesPurpose() throws {
        let text = "affonso:\n  api_key: ${AFFONSO_API_KEY}\n" + Self.rules
        let loaded = try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:], purpose: .rules)
        #expect(loaded.ruleSet.ruleNames == ["r"])
        let inRule = text.replacingOccurrences(of: "payload.c", with: "'${TENANT}'")
        #expect {
            _ = try RelayConfigLoader.load(text: inRule, file: "relay.yaml", environment: [:], purpose: .rules)
        } throws: { error in
            (error as? ConfigError)?.errors.first?.description.contains("environment variable 'TENANT' is not set")
                == true
        }
    }

    @Test("unknown keys are errors with a did-you-mean hint, at their line and column")
    func unknownKeys() {
        let errors = failures(
            "kafka:\n  group: x\ndelivery:\n  max_inflight: 4\nlogs: {}\naffonso: {api_key: k}\n" + Self.rules)
        #expect(
            errors == [
                "relay.yaml:2:3: unknown key 'group' in kafka; did you mean 'group_id'?",
                "relay.yaml:4:3: unknown key 'max_inflight' in delivery; did you mean 'max_in_flight'?",
                "relay.yaml:5:1: unknown key 'logs' in the configuration; did you mean 'logging'?",
            ])
    }

    @Test("bad values: durations, choices, numbers, insecure URLs")
    func badValues() {
        let errors = failures(
            """
            affonso: {api_key: k, base_url: "http://api.example.com", timeout: 10 seconds, plan: grow}
            delivery: {max_in_flight: 0, ordering: keys}
            kafka: {topic_patterns: ["(unclosed"]}
            """ + "\n" + Self.rules
        )
        #expect(
            errors.contains(
                "relay.yaml:1:68: affonso.timeout must be a duration such as 250ms, 30s, 5m or 1h, got '10 seconds'"))
        #expect(
            errors.contains(
                "relay.yaml:1:86: affonso.plan must be one of launch, growth, elite, enterprise, unlimited, got 'grow'; did you mean 'growth'?"
            ))
        #expect(
            errors.contains {
                $0.hasPrefix("relay.yaml:1:33: affonso.base_url 'http://api.example.com' uses plain http")
            })
        #expect(errors.contains("relay.yaml:2:27: delivery.max_in_flight must be at least 1, got 0"))
        #expect(
            errors.contains {
                $0.hasPrefix("relay.yaml:2:40: delivery.ordering must be one of key, partition, none, got 'keys'")
            })
        #expect(
            errors.contains {
                $0.hasPrefix("relay.yaml:3:26: kafka.topic_patterns[0] is not a valid regular expression")
            })
    }

    @Test("rule errors point at the YAML line and column of the name, topic or key")
    func ruleErrors() {
        let errors = failures(
            """
            affonso: {api_key: k}
            rules:
              - name: Bad_Name
                topics: ["/(/"]
                event:
                  event_name: "'x'"
                  customer: "'c'"
              - name: ok
                topics: [t]
                event: {event_name: "'x'", customer_id: "'c'"}
              - name: ok
                topics: []
                event: {event_name: "'x'", customer_id: "'c'"}
            """
        )
        #expect(errors.count == 5)
        #expect(
            errors[0]
                == "relay.yaml:3:11: rule name 'Bad_Name' is invalid; use lower-case letters, digits and '-' ([a-z0-9-]+)"
        )
        #expect(errors[1].hasPrefix("relay.yaml:4:14: topic pattern /(/ is not a valid regular expression"))
        #expect(errors[2] == "relay.yaml:7:7: 'customer' is not a field of Affonso events; did you mean 'customer_id'?")
        #expect(errors[3] == "relay.yaml:11:11: duplicate rule name 'ok' (rule #2 has it too); names must be unique")
        #expect(errors[4] == "relay.yaml:12:13: rule 'ok' has no topics; list topic names or \"/regex/\" patterns")
    }

    /// CEL errors map into the file for every scalar style.
    static let styles: [(String, String, String)] = [
        ("plain", "      event_name: invoice_paid", "relay.yaml:6:19: "),
        ("double-quoted", "      event_name: \"payload.x + invoice_paid\"", "relay.yaml:6:32: "),
        ("double-quoted with escapes", "      event_name: \"\\\"a\\\" + invoice_paid\"", "relay.yaml:6:28: "),
        ("single-quoted with doubled quotes", "      event_name: '''a'' + invoice_paid'", "relay.yaml:6:28: "),
        ("literal block", "      event_name: |\n        payload.x +\n          invoice_paid", "relay.yaml:8:11: "),
    ]

    @Test("CEL errors map back to the expression's line and column", arguments: styles)
    func expressionPositions(_ testCase: (String, String, String)) {
        let text = """
            affonso: {api_key: k}
            rules:
              - name: r
                topics: [t]
                event:
            \(testCase.1)
                  customer_id: "'c'"
            """
        let errors = failures(text)
        #expect(errors.count == 1)
        #expect(
            errors.first?.hasPrefix(testCase.2 + "event.event_name: undeclared reference 'invoice_paid'") == true,
            "\(errors)")
    }

    @Test("CEL syntax errors point into the expression")
    func syntaxPosition() {
        let errors = failures(
            "affonso: {api_key: k}\nrules:\n  - name: r\n    topics: [t]\n    match: \"payload.type == 'x' && (\"\n    event: {event_name: \"'x'\", customer_id: \"'c'\"}\n"
        )
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("relay.yaml:5:") == true)
        #expect(errors.first?.contains("match: ") == true)
    }

    @Test("invalid YAML reports its position")
    func invalidYAML() {
        let errors = failures("kafka:\n  brokers: [a, b\nrules: []\n")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("relay.yaml:3:") == true)
        #expect(errors.first?.contains("invalid YAML") == true)
    }

    @Test("rule_files globs load rules relative to the config file, with their own file names in errors")
    func ruleFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rules-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("rules"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "affonso: {api_key: k}\nrule_files: [\"rules/*.yaml\"]\n".write(
            to: directory.appendingPathComponent("relay.yaml"), atomically: true, encoding: .utf8)
        try "rules:\n  - name: a\n    topics: [t]\n    event: {event_name: \"'a'\", customer_id: \"'c'\"}\n".write(
            to: directory.appendingPathComponent("rules/1.yaml"), atomically: true, encoding: .utf8)
        try "- name: b\n  topics: [t]\n  event: {event_name: \"'b'\", customer_id: \"'c'\"}\n".write(
            to: directory.appendingPathComponent("rules/2.yaml"), atomically: true, encoding: .utf8)
        let config = directory.appendingPathComponent("relay.yaml").path
        let loaded = try RelayConfigLoader.load(path: config, environment: [:])
        #expect(loaded.ruleSet.ruleNames == ["a", "b"])

        try "- name: a\n  topics: [t]\n  event: {event_name: nope, customer_id: \"'c'\"}\n".write(
            to: directory.appendingPathComponent("rules/2.yaml"), atomically: true, encoding: .utf8)
        #expect {
            _ = try RelayConfigLoader.load(path: config, environment: [:])
        } throws: { error in
            let lines = (error as? ConfigError)?.errors.map(\.description) ?? []
            return lines.contains {
                $0.hasSuffix(
                    "rules/2.yaml:3:23: event.event_name: undeclared reference 'nope'; did you mean the string 'nope'?")
            }
                && lines.contains {
                    $0.hasSuffix("rules/2.yaml:1:9: duplicate rule name 'a' (rule #1 has it too); names must be unique")
                }
        }
    }

    @Test("a rule_files pattern that matches nothing is an error")
    func ruleFilesMissing() {
        let errors = failures("affonso: {api_key: k}\nrule_files: [\"nowhere/*.yaml\"]\n")
        #expect(errors.first?.hasPrefix("relay.yaml:2:14: rule_files pattern 'nowhere/*.yaml' matches no file") == true)
    }
}
