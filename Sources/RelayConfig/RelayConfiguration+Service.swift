import AffonsoAPI
import KafkaClient
import Relay

// MARK: - Mapping onto the modules' configuration types

extension RelayConfiguration {
    /// The configuration of `affonso-relay run`, in the Kafka, Affonso and Relay modules' own types.
    ///
    /// Registers the credentials it maps with ``SecretScrubber`` first (the inline API key, the `sasl.*` and
    /// `ssl.key.*` values of `kafka.client_properties`), so no log line, error message or retry header of any
    /// command that uses them shows them; the key file's key is registered by the client that reads it.
    /// - Parameters:
    ///   - file: names the configuration in errors.
    ///   - requiresAPIKey: false for commands that never call Affonso (`topics ensure`, `dlq inspect`).
    /// - Throws: ``ConfigError`` when the `affonso:` section names no key, or `server.listen` is unreadable.
    public func serviceConfiguration(
        file: String, requiresAPIKey: Bool = true
    ) throws(ConfigError) -> RelayServiceConfiguration {
        SecretScrubber.registerCredentials(in: kafka.clientProperties)
        if let key = affonso.apiKey { SecretScrubber.register(key) }
        var consumer = KafkaConsumerConfiguration(
            bootstrapServers: kafka.brokers,
            groupID: kafka.groupID,
            topics: kafka.topics + kafka.topicPatterns.map { $0.hasPrefix("^") ? $0 : "^" + $0 }
        )
        // One member subscribes to the source topics and the retry tiers. The cooperative-sticky assignor balances
        // only the count of partitions over all of them: with two pods it put all six source partitions on one
        // pod and the retry partitions on the other (so scaling out spread no source work). Round-robin deals
        // each topic's partitions out in turn. `client_properties` may still set `partition.assignment.strategy`.
        consumer.partitionAssignmentStrategy = .roundRobin
        // Every record the relay holds draws from one byte budget; librdkafka's prefetch is sized from it.
        consumer.maximumBufferedBytes = delivery.maximumBufferedBytes
        consumer.properties = kafka.clientProperties
        var producer = KafkaProducerConfiguration(bootstrapServers: kafka.brokers)
        producer.properties = kafka.clientProperties.filter { !Self.consumerOnlyProperties.contains($0.key) }
        // Every record the relay accepts (up to max_record_bytes, headers included) must fit in a retry or
        // dead-letter record with the relay's headers on top (at most a few kilobytes).
        if producer.properties["message.max.bytes"] == nil {
            producer.properties["message.max.bytes"] = String(
                max(1_000_000, kafka.maximumRecordBytes + Self.relayHeaderAllowance))
        }

        let credentials: AffonsoClientConfiguration.Credentials
        if let key = affonso.apiKey {
            credentials = .apiKey(key)
        } else if let path = affonso.apiKeyFile {
            credentials = .apiKeyFile(path)
        } else if !requiresAPIKey {
            credentials = .apiKey("")
        } else {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(
                    file: file, line: 0, column: 0,
                    message: "affonso: set api_key (e.g. ${AFFONSO_API_KEY}) or api_key_file")
            ])
        }
        var client = AffonsoClientConfiguration(credentials: credentials)
        client.baseURL = affonso.baseURL
        client.plan = AffonsoPlan(name: affonso.plan.rawValue) ?? .launch
        client.rateLimit = affonso.rateLimit.map { RateLimit(perMinute: $0.perMinute, burst: $0.burst) }
        client.rateLimitScope = affonso.rateLimitScope == .fleet ? .fleet : .pod
        client.timeout = affonso.timeout
        client.maximumRetryAfter = affonso.maximumRetryAfter
        client.allowInsecureHTTP = affonso.allowInsecureHTTP
        client.maximumConnections = delivery.maximumInFlight

        var pipeline = DeliveryPipelineConfiguration()
        pipeline.retry = RetryConfiguration(
            tiers: retry.tiers.map { RetryConfiguration.Tier(topic: $0.topic, delay: $0.delay) },
            maximumAttempts: retry.maximumAttempts,
            inProcessAttempts: delivery.inProcessAttempts,
            deadLetterTopic: retry.deadLetterTopic,
            referralNotFound: delivery.referralNotFound == .retry ? .retry : .deadLetter
        )
        pipeline.retry.replicationFactor = retry.replicationFactor
        do {
            try pipeline.retry.validate()
            try pipeline.delivery.validate()
        } catch {
            throw ConfigError(diagnostics: [ConfigDiagnostic(file: file, line: 0, column: 0, message: error.message)])
        }
        pipeline.delivery = DeliveryConfiguration(
            maximumInFlight: delivery.maximumInFlight,
            ordering: DeliveryOrdering(rawValue: delivery.ordering.rawValue) ?? .key,
            unmatched: delivery.unmatched == .deadLetter ? .deadLetter : .skip
        )
        pipeline.drainTimeout = server.shutdownGrace
        pipeline.commitInterval = kafka.commitInterval
        pipeline.knownSecrets = affonso.apiKey.map { [$0] } ?? []
        // Conversions are remembered (and refunds resolved) once a rule refunds.
        if rules.contains(where: { $0.refund != nil }) {
            let topic = "\(kafka.groupID).conversions"
            if let problem = KafkaTopicName.problem(topic) {
                let message =
                    "a rule refunds, so conversions are remembered in '\(topic)' (kafka.group_id + '.conversions'), "
                    + "which is not a Kafka topic name: \(problem); change kafka.group_id"
                throw ConfigError(diagnostics: [ConfigDiagnostic(file: file, line: 0, column: 0, message: message)])
            }
            pipeline.conversionsTopic = topic
        }
        pipeline.refundsWindow = refunds.window

        var service = RelayServiceConfiguration(
            consumer: consumer, producer: producer, affonso: client, pipeline: pipeline)
        service.createTopics = retry.createTopics
        return service
    }

    /// Room for the `affonso-relay.*` headers on a retry or dead-letter record (11 headers, the error message cut
    /// at 1 KB), with margin.
    static let relayHeaderAllowance = 16_384

    /// librdkafka consumer properties that `client_properties` may hold but the producer must not get (it would
    /// warn about each).
    static let consumerOnlyProperties: Set<String> = [
        "session.timeout.ms", "heartbeat.interval.ms", "group.instance.id", "group.protocol",
        "partition.assignment.strategy", "max.poll.interval.ms", "auto.offset.reset", "enable.auto.commit",
        "auto.commit.interval.ms", "enable.auto.offset.store", "fetch.min.bytes", "fetch.max.bytes",
        "fetch.wait.max.ms", "max.partition.fetch.bytes", "queued.min.messages", "queued.max.messages.kbytes",
        "isolation.level", "check.crcs", "enable.partition.eof",
    ]
}
