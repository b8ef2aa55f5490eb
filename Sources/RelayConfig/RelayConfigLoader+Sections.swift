import AffonsoAPI
import Foundation
import KafkaClient
import Rules
import Yams

extension RelayConfigLoader {
    // MARK: - Keys

    static let kafkaKeys = [
        "brokers", "group_id", "topics", "topic_patterns", "client_properties", "max_record_bytes", "commit_interval",
    ]
    static let affonsoKeys = [
        "base_url", "api_key", "api_key_file", "plan", "rate_limit", "timeout", "max_retry_after",
        "allow_insecure_http",
    ]
    static let rateLimitKeys = ["per_minute", "burst", "scope"]
    static let deliveryKeys = [
        "max_in_flight", "ordering", "in_process_attempts", "unmatched", "referral_not_found", "max_buffered_bytes",
    ]
    static let retryKeys = ["tiers", "max_attempts", "dead_letter_topic", "create_topics", "replication_factor"]
    static let tierKeys = ["topic", "delay"]
    static let serverKeys = ["listen", "shutdown_grace"]
    static let loggingKeys = ["level", "format"]
    static let refundsKeys = ["window"]

    /// Every key `relay.yaml` accepts outside `rules`, dotted (`kafka.brokers`, `retry.tiers.delay`); what
    /// docs/configuration.md must describe.
    public static var knownKeys: [String] {
        var keys = topLevelKeys
        keys += kafkaKeys.map { "kafka." + $0 }
        keys += affonsoKeys.map { "affonso." + $0 } + rateLimitKeys.map { "affonso.rate_limit." + $0 }
        keys += deliveryKeys.map { "delivery." + $0 }
        keys += retryKeys.map { "retry." + $0 } + tierKeys.map { "retry.tiers." + $0 }
        keys += serverKeys.map { "server." + $0 } + loggingKeys.map { "logging." + $0 }
        keys += refundsKeys.map { "refunds." + $0 }
        return keys
    }

    // MARK: - Sections

    /// What is wrong with one `kafka.brokers` entry, as librdkafka reads it: `host`, `host:port`, `[v6]:port`, a
    /// `PLAINTEXT://`-style prefix, or several of these separated by commas; nil when nothing is.
    static func brokerProblem(_ entry: String) -> String? {
        for part in entry.split(separator: ",", omittingEmptySubsequences: false) {
            var address = part.trimmingCharacters(in: .whitespaces)
            if let scheme = address.range(of: "://") { address = String(address[scheme.upperBound...]) }
            if address.isEmpty { return "a host is missing" }
            if address.contains(where: { $0.isWhitespace || $0 == "/" }) { return "a host has spaces or slashes" }
            var port: Substring?
            if address.hasPrefix("[") {
                guard let close = address.firstIndex(of: "]"), close > address.index(after: address.startIndex) else {
                    return "an IPv6 address is not closed with ]"
                }
                let rest = address[address.index(after: close)...]
                if !rest.isEmpty {
                    guard rest.hasPrefix(":") else { return "only :port may follow an IPv6 address" }
                    port = rest.dropFirst()
                }
            } else if let colon = address.firstIndex(of: ":") {
                guard address[address.index(after: colon)...].allSatisfy({ $0 != ":" }) else {
                    return "write an IPv6 address in brackets, such as [::1]:9092"
                }
                if colon == address.startIndex { return "a host is missing" }
                port = address[address.index(after: colon)...]
            }
            if let port, !(port.allSatisfy(\.isASCII) && (Int(port).map { (1...65_535).contains($0) } ?? false)) {
                return "the port must be a number from 1 to 65535"
            }
        }
        return nil
    }

    static func readKafka(_ node: Node, _ reader: YAMLReader, _ kafka: inout RelayConfiguration.Kafka) {
        guard let entries = reader.mapping(node, "kafka", allowed: kafkaKeys) else { return }
        for entry in entries {
            let what = "kafka.\(entry.key)"
            switch entry.key {
            case "brokers":
                guard let nodes = reader.sequence(entry.value, what) else { continue }
                var brokers: [String] = []
                for (index, brokerNode) in nodes.enumerated() {
                    guard let broker = reader.string(brokerNode, "\(what)[\(index)]") else { continue }
                    if let problem = brokerProblem(broker) {
                        reader.error(
                            brokerNode,
                            "\(what)[\(index)] must be host:port (such as kafka-0.kafka:9092), got '\(broker)': \(problem)"
                        )
                    }
                    brokers.append(broker)
                }
                if nodes.isEmpty {
                    reader.error(entry.value, "kafka.brokers is empty; list at least one host:port")
                }
                kafka.brokers = brokers
            case "group_id":
                if let group = reader.string(entry.value, what) {
                    if group.isEmpty { reader.error(entry.value, "kafka.group_id must not be empty") }
                    kafka.groupID = group
                }
            case "topics":
                guard let nodes = reader.sequence(entry.value, what) else { continue }
                kafka.topics = []
                for (index, topicNode) in nodes.enumerated() {
                    guard let topic = reader.string(topicNode, "\(what)[\(index)]") else { continue }
                    if let problem = KafkaTopicName.problem(topic) {
                        reader.error(
                            topicNode,
                            "\(what)[\(index)] '\(topic)' is not a Kafka topic name: \(problem) (a pattern goes in "
                                + "kafka.topic_patterns)")
                    }
                    kafka.topics.append(topic)
                }
            case "topic_patterns":
                guard let nodes = reader.sequence(entry.value, what) else { continue }
                for (index, patternNode) in nodes.enumerated() {
                    guard let pattern = reader.string(patternNode, "\(what)[\(index)]") else { continue }
                    do {
                        _ = try Regex(pattern)
                        kafka.topicPatterns.append(pattern)
                    } catch {
                        reader.error(patternNode, "\(what)[\(index)] is not a valid regular expression: \(error)")
                    }
                }
            case "client_properties": readClientProperties(entry.value, reader, &kafka)
            case "max_record_bytes":
                // librdkafka's message.max.bytes is at most 1,000,000,000.
                kafka.maximumRecordBytes =
                    reader.integer(entry.value, what, minimum: 1, maximum: 1_000_000_000) ?? kafka.maximumRecordBytes
            case "commit_interval": kafka.commitInterval = reader.duration(entry.value, what) ?? kafka.commitInterval
            default: break
            }
        }
    }

    static func readAffonso(
        _ node: Node,
        _ reader: YAMLReader,
        _ affonso: inout RelayConfiguration.Affonso,
        purpose: Purpose
    ) {
        guard let entries = reader.mapping(node, "affonso", allowed: affonsoKeys) else { return }
        var baseURLNode: Node?
        for entry in entries {
            let what = "affonso.\(entry.key)"
            switch entry.key {
            case "base_url":
                baseURLNode = entry.value
                affonso.baseURL = reader.string(entry.value, what) ?? affonso.baseURL
            case "api_key": affonso.apiKey = reader.optionalString(entry.value, what)
            case "api_key_file": affonso.apiKeyFile = reader.optionalString(entry.value, what)
            case "plan":
                affonso.plan = reader.choice(entry.value, what, RelayConfiguration.Affonso.Plan.self) ?? affonso.plan
            case "rate_limit":
                guard let limits = reader.mapping(entry.value, what, allowed: rateLimitKeys) else { continue }
                var perMinute: Int?
                var burst: Int?
                for limit in limits {
                    if limit.key == "scope" {
                        affonso.rateLimitScope =
                            reader.choice(limit.value, "\(what).scope", RelayConfiguration.Affonso.RateLimitScope.self)
                            ?? affonso.rateLimitScope
                        continue
                    }
                    let value = reader.integer(limit.value, "\(what).\(limit.key)", minimum: 1, maximum: 1_000_000)
                    if limit.key == "per_minute" { perMinute = value } else { burst = value }
                }
                if let perMinute {
                    affonso.rateLimit = .init(perMinute: perMinute, burst: burst ?? max(1, perMinute / 30))
                } else if burst != nil || !limits.contains(where: { $0.key == "scope" }) {
                    // `rate_limit: {scope: pod}` alone keeps the plan's limit.
                    reader.error(entry.value, "affonso.rate_limit needs per_minute")
                }
            case "timeout":
                guard let timeout = reader.duration(entry.value, what) else { continue }
                if timeout <= .zero {
                    reader.error(
                        entry.value,
                        "\(what) must be more than 0, got \(timeout); it is the longest one request may take (there is "
                            + "no \"no timeout\"), so use a value such as 10s")
                    continue
                }
                affonso.timeout = timeout
            case "max_retry_after":
                guard let wait = reader.duration(entry.value, what) else { continue }
                if wait <= .zero || wait > .seconds(86_400) {
                    reader.error(
                        entry.value,
                        "\(what) must be more than 0 and at most 24h, got \(wait); it caps any wait the API asks for "
                            + "(the plan's window is a minute: 60s is a good value)"
                    )
                } else {
                    affonso.maximumRetryAfter = wait
                }
            case "allow_insecure_http":
                affonso.allowInsecureHTTP = reader.bool(entry.value, what) ?? affonso.allowInsecureHTTP
            default: break
            }
        }
        if affonso.apiKey != nil && affonso.apiKeyFile != nil {
            reader.error(node, "affonso: set api_key or api_key_file, not both")
        }
        let hasKeyEntry = entries.contains { $0.key == "api_key" || $0.key == "api_key_file" }
        if purpose == .service && (!hasKeyEntry || affonso.apiKey == "") && affonso.apiKeyFile == nil {
            reader.error(node, "affonso needs api_key (e.g. ${AFFONSO_API_KEY}) or api_key_file")
        }
        if let keyNode = entries.first(where: { $0.key == "api_key_file" })?.value {
            reader.remember("affonso.api_key_file", keyNode)
        }
        let url = affonso.baseURL
        let shown = AffonsoClientConfiguration.shownURL(url)
        let lower = url.lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://"),
            let problem = AffonsoClientConfiguration.baseURLShapeProblem(url)
        {
            reader.error(baseURLNode ?? node, problem)
        } else if lower.hasPrefix("http://") {
            let host = URL(string: url)?.host ?? ""
            let loopback = host == "localhost" || host == "::1" || host.hasPrefix("127.")
            if !loopback && !affonso.allowInsecureHTTP && purpose == .service {
                reader.error(
                    baseURLNode ?? node,
                    "affonso.base_url '\(shown)' uses plain http to a non-loopback host; use https or set "
                        + "allow_insecure_http: true"
                )
            }
        } else if !lower.hasPrefix("https://") && !(purpose != .service && url.isEmpty) {
            reader.error(baseURLNode ?? node, "affonso.base_url must be an http(s) URL, got '\(shown)'")
        }
    }

    static func readDelivery(_ node: Node, _ reader: YAMLReader, _ delivery: inout RelayConfiguration.Delivery) {
        guard let entries = reader.mapping(node, "delivery", allowed: deliveryKeys) else { return }
        for entry in entries {
            let what = "delivery.\(entry.key)"
            switch entry.key {
            case "max_in_flight":
                delivery.maximumInFlight =
                    reader.integer(entry.value, what, minimum: 1, maximum: 1_000_000) ?? delivery.maximumInFlight
            case "ordering":
                delivery.ordering =
                    reader.choice(entry.value, what, RelayConfiguration.Delivery.Ordering.self) ?? delivery.ordering
            case "in_process_attempts":
                delivery.inProcessAttempts =
                    reader.integer(entry.value, what, minimum: 1, maximum: 1_000) ?? delivery.inProcessAttempts
            case "unmatched":
                delivery.unmatched =
                    reader.choice(entry.value, what, RelayConfiguration.Delivery.Unmatched.self) ?? delivery.unmatched
            case "max_buffered_bytes":
                delivery.maximumBufferedBytes =
                    reader.byteSize(entry.value, what, minimum: 1 << 20, maximum: 1 << 40)
                    ?? delivery.maximumBufferedBytes
            case "referral_not_found":
                delivery.referralNotFound =
                    reader.choice(entry.value, what, RelayConfiguration.Delivery.ReferralNotFound.self)
                    ?? delivery.referralNotFound
            default: break
            }
        }
    }

    static func readRetry(_ node: Node, _ reader: YAMLReader, _ retry: inout RelayConfiguration.Retry) {
        guard let entries = reader.mapping(node, "retry", allowed: retryKeys) else { return }
        for entry in entries {
            let what = "retry.\(entry.key)"
            switch entry.key {
            case "tiers":
                guard let nodes = reader.sequence(entry.value, what) else { continue }
                var tiers: [RelayConfiguration.Retry.Tier] = []
                for (index, tierNode) in nodes.enumerated() {
                    let tierWhat = "\(what)[\(index)]"
                    guard let fields = reader.mapping(tierNode, tierWhat, allowed: tierKeys) else { continue }
                    let topic = fields.first { $0.key == "topic" }.flatMap {
                        reader.string($0.value, "\(tierWhat).topic")
                    }
                    let delay = fields.first { $0.key == "delay" }.flatMap {
                        reader.duration($0.value, "\(tierWhat).delay")
                    }
                    if let topic, let delay {
                        tiers.append(.init(topic: topic, delay: delay))
                    } else if !fields.contains(where: { $0.key == "topic" })
                        || !fields.contains(where: { $0.key == "delay" })
                    {
                        reader.error(tierNode, "\(tierWhat) needs both topic and delay")
                    }
                }
                retry.tiers = tiers
            case "max_attempts":
                retry.maximumAttempts =
                    reader.integer(entry.value, what, minimum: 1, maximum: 1_000_000) ?? retry.maximumAttempts
            case "dead_letter_topic": retry.deadLetterTopic = reader.string(entry.value, what) ?? retry.deadLetterTopic
            case "create_topics": retry.createTopics = reader.bool(entry.value, what) ?? retry.createTopics
            case "replication_factor":
                guard let factor = reader.integer(entry.value, what, minimum: -1, maximum: 10_000) else { continue }
                if factor == 0 {
                    reader.error(
                        entry.value,
                        "\(what) must be -1 (the broker's default.replication.factor) or a factor from 1 to 10000, "
                            + "got 0")
                } else {
                    retry.replicationFactor = factor
                }
            default: break
            }
        }
    }

    static func readServer(_ node: Node, _ reader: YAMLReader, _ server: inout RelayConfiguration.Server) {
        guard let entries = reader.mapping(node, "server", allowed: serverKeys) else { return }
        for entry in entries {
            let what = "server.\(entry.key)"
            switch entry.key {
            case "listen":
                guard let listen = reader.string(entry.value, what) else { continue }
                if let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
                    (0...65535).contains(port)
                {
                    server.listen = listen
                } else {
                    reader.error(entry.value, "server.listen must be host:port, got '\(listen)'")
                }
            case "shutdown_grace": server.shutdownGrace = reader.duration(entry.value, what) ?? server.shutdownGrace
            default: break
            }
        }
    }

    static func readLogging(_ node: Node, _ reader: YAMLReader, _ logging: inout RelayConfiguration.Logging) {
        guard let entries = reader.mapping(node, "logging", allowed: loggingKeys) else { return }
        for entry in entries {
            let what = "logging.\(entry.key)"
            switch entry.key {
            case "level":
                logging.level = reader.choice(entry.value, what, RelayConfiguration.Logging.Level.self) ?? logging.level
            case "format":
                logging.format =
                    reader.choice(entry.value, what, RelayConfiguration.Logging.Format.self) ?? logging.format
            default: break
            }
        }
    }

    static func readRefunds(_ node: Node, _ reader: YAMLReader, _ refunds: inout RelayConfiguration.Refunds) {
        guard let entries = reader.mapping(node, "refunds", allowed: refundsKeys) else { return }
        for entry in entries where entry.key == "window" {
            guard let window = reader.duration(entry.value, "refunds.window") else { continue }
            if window < .seconds(86_400) {
                reader.error(
                    entry.value,
                    "refunds.window must be at least 1d, got \(entry.value.scalar?.string ?? "\(window)"); it is how "
                        + "long conversions are remembered for their refunds (refunds come days or months after the "
                        + "sale: the default 180d covers Stripe's dispute window)")
            } else {
                refunds.window = window
            }
        }
    }

    /// `kafka.client_properties`: each property is set on a throwaway librdkafka configuration, so a typo is an
    /// error at its line (with a "did you mean"). ``checkRuntime(_:file:requiresAPIKey:)`` then creates the
    /// clients once from all of them.
    static func readClientProperties(_ node: Node, _ reader: YAMLReader, _ kafka: inout RelayConfiguration.Kafka) {
        let what = "kafka.client_properties"
        guard let properties = reader.mapping(node, what) else { return }
        for property in properties {
            guard let value = reader.string(property.value, "\(what).\(property.key)") else { continue }
            kafka.clientProperties[property.key] = value
            // Where unset variables are tolerated (`rules check`), a value built from one is not checked.
            let raw = property.value.scalar?.string ?? ""
            let isUnresolved = !reader.requiresVariables && raw.contains("${")
            guard let rejection = KafkaClientProperties.rejection(property.key, isUnresolved ? "" : value) else {
                continue
            }
            if isUnresolved && !rejection.isUnknownProperty { continue }
            if rejection.isUnknownProperty {
                let hint =
                    Suggestion.closest(to: property.key, in: KafkaClientProperties.names).map {
                        "did you mean '\($0)'?"
                    } ?? "check the name against librdkafka's CONFIGURATION.md"
                reader.error(
                    property.keyNode, "\(what): librdkafka has no property '\(property.key)'; \(hint)")
            } else {
                let shown = isSecret(property.key) ? "(hidden)" : "'\(value)'"
                let reason = isSecret(property.key) ? "" : ": \(rejection.reason)"
                reader.error(
                    property.value,
                    "\(what).\(property.key): librdkafka rejected the value \(shown)\(reason); "
                        + "check it against librdkafka's CONFIGURATION.md"
                )
            }
        }
        reader.remember(what, node)
    }

    /// What only the machine the relay runs on can tell, for the commands that start clients (`run`,
    /// `config check`, `topics ensure`, `dlq …`): librdkafka can create its clients from `kafka.client_properties`
    /// (certificates readable, SASL mechanisms built in, settings that go together), and `affonso.api_key_file`
    /// is readable when the key is needed.
    /// - Parameters:
    ///   - loaded: a configuration that loaded without errors.
    ///   - file: names it in the diagnostics.
    ///   - requiresAPIKey: false for commands that never call Affonso.
    /// - Returns: one error per problem, at the key's line and column.
    public static func checkRuntime(
        _ loaded: Loaded, file: String, requiresAPIKey: Bool = true
    ) -> [ConfigDiagnostic] {
        var diagnostics: [ConfigDiagnostic] = []
        func error(_ key: String, _ message: String) {
            let position = loaded.positions[key]
            diagnostics.append(
                ConfigDiagnostic(
                    file: file, line: position?.line ?? 0, column: position?.column ?? 0, message: message))
        }
        // Exactly what the service would create its clients from, when the sections map onto its types.
        let properties = loaded.configuration.kafka.clientProperties.sorted { $0.key < $1.key }.map {
            ($0.key, $0.value)
        }
        let service = try? loaded.configuration.serviceConfiguration(file: file, requiresAPIKey: false)
        let problem =
            service.flatMap { KafkaClientProperties.clientProblem(producer: $0.producer, consumer: $0.consumer) }
            ?? (service == nil && !properties.isEmpty ? KafkaClientProperties.clientProblem(properties) : nil)
        if let problem {
            error(
                "kafka.client_properties",
                "kafka.client_properties: librdkafka cannot create a client from these properties: \(problem); fix "
                    + "or remove the property it names"
            )
        }
        if requiresAPIKey, let path = loaded.configuration.affonso.apiKeyFile,
            !FileManager.default.isReadableFile(atPath: path)
        {
            error(
                "affonso.api_key_file",
                "affonso.api_key_file '\(path)' cannot be read (does it exist, and may the relay read it?); mount "
                    + "the key there or use api_key: ${AFFONSO_API_KEY}"
            )
        }
        return diagnostics
    }

    /// Properties whose values are never shown in messages.
    static func isSecret(_ property: String) -> Bool {
        let lowered = property.lowercased()
        return ["password", "secret", "jaas", "token", "credential", "key.pem"].contains { lowered.contains($0) }
    }
}
