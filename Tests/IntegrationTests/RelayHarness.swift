import AffonsoSandbox
import Foundation
import KafkaClient
import Logging
import Relay
import RelayConfig
import Rules
import ServiceLifecycle
import Synchronization
import Testing

/// One relay under test: unique topics and group on the stack's Tansu broker (or the given one), an in-process
/// sandbox with the given referrals, and `RelayService` running in a `ServiceGroup` until ``stop()``.
final class RelayHarness: Sendable {
    /// The brokers the topics live on and the relay reads from.
    let brokers: [String]
    let source: String
    let group: String
    let retryTopics: [String]
    let deadLetterTopic: String
    let sandbox: AffonsoSandboxServer
    let sandboxURL: String
    private let running = Mutex<(ServiceGroup, Task<Void, any Error>)?>(nil)
    private let sandboxTask: Task<Void, any Error>

    static let logger: Logger = {
        var logger = Logger(label: "RelayIntegrationTests")
        let level = ProcessInfo.processInfo.environment["RELAY_TEST_LOG"].flatMap { Logger.Level(rawValue: $0) }
        logger.logLevel = level ?? .warning
        return logger
    }()

    /// The rules every relay test uses: invoices become conversions (and a milestone, for fan-out when
    /// `fanOut` is set), keyed by the Stripe customer; `currency` is the expression of `sale_amount_currency`.
    static func rules(source: String, fanOut: Bool, currency: String = "payload.currency.upperAscii()") -> String {
        var text = """
            rules:
              - name: invoice-paid
                topics: ["\(source)"]
                match: "payload.type == 'invoice.paid'"
                event:
                  event_name: "'invoice_paid'"
                  event_type: "'conversion'"
                  customer_id: "payload.customer"
                  sale_amount: "double(payload.amount) / 100.0"
                  sale_amount_currency: "\(currency)"
                  external_event_id: "payload.id"

            """
        if fanOut {
            text += """
                  - name: invoice-milestone
                    topics: ["\(source)"]
                    match: "payload.type == 'invoice.paid'"
                    event:
                      event_name: "'invoice_seen'"
                      event_type: "'milestone'"
                      customer_id: "payload.customer"
                      external_event_id: "'seen-' + payload.id"

                """
        }
        return text
    }

    /// - Parameters:
    ///   - referrals: the sandbox's referrals.
    ///   - tiers: retry-tier delays.
    ///   - delivery: YAML lines added to `delivery:` (e.g. `max_in_flight: 64`).
    ///   - rules: the `rules:` section for the source topic, instead of ``rules(source:fanOut:)``.
    ///   - sandboxPlan: the rate limit the sandbox enforces (default: none).
    ///   - affonso: YAML lines added to `affonso:` (e.g. `rate_limit: {per_minute: 120, burst: 4}`).
    ///   - brokers: the Kafka brokers (default: the stack's broker).
    init(
        referrals: [SandboxReferral],
        partitions: Int = 3,
        fanOut: Bool = false,
        tiers: [String] = ["1s", "2s"],
        maxAttempts: Int = 3,
        maxRecordBytes: Int = 1_048_576,
        delivery: [String] = [],
        apiKeyFile: String? = nil,
        apiKey: String = SandboxAPIKey.defaultKey.key,
        configure: (inout RelayServiceConfiguration) -> Void = { _ in },
        rules: ((_ source: String) -> String)? = nil,
        sandboxPlan: SandboxPlan? = nil,
        affonso: [String] = [],
        brokers: [String]? = nil
    ) async throws {
        let brokers = brokers ?? kafkaBrokers ?? []
        self.brokers = brokers
        let name = uniqueName("relay")
        source = "\(name).billing"
        group = "\(name).group"
        retryTopics = tiers.map { "\(name).retry.\($0)" }
        deadLetterTopic = "\(name).dlq"
        try await createKafkaTopic(source, partitions: partitions, brokers: brokers)

        var configuration = SandboxConfiguration()
        configuration.referrals = referrals
        configuration.apiKeys = [SandboxAPIKey(key: apiKey, scopes: [SandboxAPIKey.writeCommissions])]
        if let sandboxPlan { configuration.plan = sandboxPlan }
        sandbox = try AffonsoSandboxServer(configuration: configuration, logger: Self.logger)
        sandboxTask = Task { [sandbox] in try await sandbox.run() }
        let port = try await sandbox.waitUntilListening()
        sandboxURL = "http://127.0.0.1:\(port)"

        kafkaSection = """
            kafka:
              brokers: [\(brokers.map { "\"\($0)\"" }.joined(separator: ", "))]
            """
        affonsoKey = apiKeyFile.map { "api_key_file: \($0)" } ?? "api_key: \(apiKey)"
        settings = """
              group_id: \(group)
              topics: ["\(source)"]
              max_record_bytes: \(maxRecordBytes)
              client_properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "500"}
            affonso:
              base_url: \(sandboxURL)
              {{api_key}}
              plan: unlimited
              timeout: 2s
            \(affonso.map { "  " + $0 }.joined(separator: "\n"))
            delivery:
            \((["in_process_attempts: 2"] + delivery).map { "  " + $0 }.joined(separator: "\n"))
            retry:
              tiers:
            \(zip(retryTopics, tiers).map { "    - {topic: \($0.0), delay: \($0.1)}" }.joined(separator: "\n"))
              max_attempts: \(maxAttempts)
              dead_letter_topic: \(deadLetterTopic)

            """
        ruleText = rules?(source) ?? Self.rules(source: source, fanOut: fanOut)
        let yaml =
            kafkaSection + "\n" + settings.replacing("{{api_key}}", with: affonsoKey)
            + Self.serverAndRules(listen: nil, logLevel: "warning", rules: ruleText)
        let loaded = try RelayConfigLoader.load(text: yaml, file: "relay-test.yaml", environment: [:])
        var serviceConfiguration = try loaded.configuration.serviceConfiguration(file: "relay-test.yaml")
        configure(&serviceConfiguration)
        self.serviceConfiguration = serviceConfiguration
        self.rules = loaded.ruleSet
    }

    let serviceConfiguration: RelayServiceConfiguration
    let rules: RuleSet
    /// The `kafka`, `affonso`, `delivery` and `retry` sections of the relay's relay.yaml, after `kafka.brokers`
    /// (``kafkaSection``), with `{{api_key}}` where the `api_key` or `api_key_file` line goes.
    private let settings: String
    /// `kafka:` and its `brokers` line.
    private let kafkaSection: String
    /// The harness's `api_key` or `api_key_file` line.
    private let affonsoKey: String
    private let ruleText: String

    /// The `server`, `logging` and `rules` sections.
    private static func serverAndRules(
        listen: String?,
        logLevel: String,
        logFormat: String = "json",
        shutdownGrace: String = "10s",
        rules: String
    ) -> String {
        """
        server:
          shutdown_grace: \(shutdownGrace)
        \(listen.map { "  listen: \"\($0)\"" } ?? "")
        logging: {level: \(logLevel), format: \(logFormat)}
        \(rules)
        """
    }

    /// The relay.yaml a relay process runs with: this harness's topics, group and sandbox, `rules` (default: the
    /// harness's), metrics and health on `listen`.
    func configurationText(listen: String, logLevel: String = "info", rules: String? = nil) -> String {
        configurationText(listen: listen, logLevel: logLevel, logFormat: "json", rules: rules)
    }

    /// The relay.yaml of a relay process, with more choices.
    /// - Parameters:
    ///   - brokers: `kafka.brokers` (default: the harness's brokers).
    ///   - apiKey: an `api_key` line's key instead of the harness's key line.
    ///   - apiKeyFile: an `api_key_file` instead of the harness's key line.
    ///   - logFormat: `logging.format` (`json` or `text`).
    ///   - shutdownGrace: `server.shutdown_grace`.
    ///   - createTopics: `retry.create_topics`.
    func configurationText(
        listen: String,
        logLevel: String = "info",
        logFormat: String,
        shutdownGrace: String = "10s",
        brokers: [String]? = nil,
        apiKey: String? = nil,
        apiKeyFile: String? = nil,
        createTopics: Bool = true,
        rules: String? = nil
    ) -> String {
        let kafka =
            brokers.map { "kafka:\n  brokers: [\($0.map { "\"\($0)\"" }.joined(separator: ", "))]" } ?? kafkaSection
        let key = apiKeyFile.map { "api_key_file: \($0)" } ?? apiKey.map { "api_key: \($0)" } ?? affonsoKey
        return kafka + "\n" + settings.replacing("{{api_key}}", with: key)
            + (createTopics ? "" : "  create_topics: false\n")
            + Self.serverAndRules(
                listen: listen, logLevel: logLevel, logFormat: logFormat, shutdownGrace: shutdownGrace,
                rules: rules ?? ruleText)
    }
    private let current = Mutex<RelayService?>(nil)

    /// The running relay (the last one started).
    var service: RelayService { current.withLock { $0! } }

    /// Starts a relay process (in this process): a new member of the group.
    func start() throws {
        let service = try RelayService(configuration: serviceConfiguration, rules: rules, logger: Self.logger)
        current.withLock { $0 = service }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                logger: Self.logger
            )
        )
        let task = Task { try await group.run() }
        running.withLock { $0 = (group, task) }
    }

    /// Gracefully stops the relay (drain, commit, leave the group) and, unless `keepSandbox`, the sandbox.
    func stop(keepSandbox: Bool = false) async throws {
        if let (group, task) = running.withLock({ $0 }) {
            await group.triggerGracefulShutdown()
            try await task.value
        }
        if !keepSandbox { sandboxTask.cancel() }
    }

    /// Produces JSON invoices; `customer` picks the key and customer id of each. With `inFlight` 1 (default) the
    /// records are in `ids` order; more sends in flight are faster but may reorder them.
    /// - Returns: where each id was written, from the producer's delivery reports.
    @discardableResult
    func produceInvoices(
        _ ids: [String],
        inFlight: Int = 1,
        customer: @escaping @Sendable (Int) -> String,
        amount: Int = 9900
    ) async throws -> [String: KafkaProducer.DeliveryReport] {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: brokers), logger: Self.logger)
        let source = source
        var written: [String: KafkaProducer.DeliveryReport] = [:]
        try await withThrowingTaskGroup(of: (String, KafkaProducer.DeliveryReport).self) { group in
            for (index, id) in ids.enumerated() {
                if index >= inFlight, let (id, report) = try await group.next() { written[id] = report }
                group.addTask {
                    let customerID = customer(index)
                    let value = """
                        {"id": "\(id)", "type": "invoice.paid", "customer": "\(customerID)", "amount": \(amount), "currency": "usd"}
                        """
                    let report = try await producer.send(
                        topic: source, key: Array(customerID.utf8), value: Array(value.utf8))
                    return (id, report)
                }
            }
            for try await (id, report) in group { written[id] = report }
        }
        await producer.close()
        return written
    }

    /// Produces raw values (poison records) with a key.
    func produceRaw(_ values: [[UInt8]], key: String = "poison") async throws {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: brokers), logger: Self.logger)
        for value in values {
            _ = try await producer.send(topic: source, key: Array(key.utf8), value: value)
        }
        await producer.close()
    }

    /// The source's offsets committed by the relay's group so far (all partitions; 0 where none).
    func committedTotal(partitions: Int = 3) async throws -> Int64 {
        try await committedAndEndOffsets(partitions: partitions).reduce(0) { $0 + $1.committed }
    }

    /// The group's committed offset (0 when none) and the log end offset of every source partition.
    func committedAndEndOffsets(partitions: Int = 3) async throws -> [(committed: Int64, end: Int64)] {
        let list = (0..<partitions).map { KafkaTopicPartition(topic: source, partition: Int32($0)) }
        let committed = try await committedOffsets(list)
        // The log ends are asked through a consumer of a group of its own: the relay's group is left alone.
        let consumer = try KafkaConsumer(
            configuration: kafkaConsumerConfiguration(topic: source, group: uniqueName("ends"), brokers: brokers),
            logger: Self.logger)
        do {
            var result: [(Int64, Int64)] = []
            for partition in list {
                let end = try await consumer.watermarks(topic: source, partition: partition.partition).high
                result.append((committed[partition] ?? 0, end))
            }
            await consumer.close()
            return result
        } catch {
            await consumer.close()
            throw error
        }
    }

    /// The relay group's committed offsets, read without joining the group.
    func committedOffsets(_ partitions: [KafkaTopicPartition]) async throws -> [KafkaTopicPartition: Int64] {
        let admin = try KafkaAdmin(bootstrapServers: brokers, timeout: .seconds(10), logger: Self.logger)
        do {
            let offsets = try await admin.committedOffsets(group: group, partitions: partitions)
            await admin.close()
            return offsets
        } catch {
            await admin.close()
            throw error
        }
    }

    /// Reads the dead-letter topic's records (waits up to `timeout` for `count`).
    func deadLetters(count: Int, timeout: Duration = .seconds(30)) async throws -> [KafkaConsumerMessage] {
        try await read(deadLetterTopic, count: count, timeout: timeout)
    }

    /// Reads a topic from the start with a fresh group, until `count` records arrived or `timeout` passed.
    func read(_ topic: String, count: Int, timeout: Duration) async throws -> [KafkaConsumerMessage] {
        let consumer = try KafkaConsumer(
            configuration: kafkaConsumerConfiguration(topic: topic, group: uniqueName("reader"), brokers: brokers),
            logger: Self.logger
        )
        let collector = KafkaCollector(consumer)
        _ = await collector.waitFor(count: count, timeout: timeout)
        await consumer.close()
        return collector.messages
    }
}

/// A referral the tests' invoices can match.
func referral(_ index: Int) -> SandboxReferral {
    SandboxReferral(id: "ref_test_\(index)", affiliateID: "aff_test", customerID: "cus_test_\(index)")
}

extension KafkaConsumerMessage {
    /// The value of the last header named `key`, as text.
    func header(_ key: String) -> String? {
        headers.last { $0.key == key }?.value.map { String(decoding: $0, as: UTF8.self) }
    }
}
