import CRdKafka

// MARK: - Topic configs

extension KafkaAdmin {
    /// The configs of one topic as the broker reports them: every config's effective value (a topic override, or
    /// the broker's default), by name. Sensitive configs have no value and are left out.
    public typealias TopicConfigs = [String: String]

    /// Reads the configs of existing topics (DescribeConfigs, Kafka 0.11 or newer).
    ///
    /// - Parameter topics: the topic names; topics the broker does not know are left out of the result.
    /// - Returns: each known topic's effective configs.
    /// - Throws: ``KafkaError``; ``KafkaError/isUnsupportedRequest`` tells a broker that does not answer
    ///   DescribeConfigs apart from other failures.
    public func describeTopicConfigs(_ topics: [String]) async throws(KafkaError) -> [String: TopicConfigs] {
        guard !topics.isEmpty else { return [:] }
        return try await run { [timeout] rk throws(KafkaError) in try Self.describeConfigs(rk, topics, timeout: timeout)
        }
    }

    private static func describeConfigs(
        _ rk: OpaquePointer,
        _ topics: [String],
        timeout: Duration
    ) throws(KafkaError) -> [String: TopicConfigs] {
        var resources: [OpaquePointer?] = topics.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
        defer { for resource in resources { rd_kafka_ConfigResource_destroy(resource) } }
        let names = topics.joined(separator: ", ")
        return try request(
            rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout: timeout, doing: "describing the configs of \(names)",
            failing: "could not describe the configs of \(names)"
        ) { options, queue in
            rd_kafka_DescribeConfigs(rk, &resources, resources.count, options, queue)
        } result: { event throws(KafkaError) in
            try describedConfigs(event)
        }
    }

    private static func describedConfigs(_ event: OpaquePointer) throws(KafkaError) -> [String: TopicConfigs] {
        var count = 0
        guard let result = rd_kafka_event_DescribeConfigs_result(event),
            let described = rd_kafka_DescribeConfigs_result_resources(result, &count)
        else { return [:] }
        var configs: [String: TopicConfigs] = [:]
        for index in 0..<count {
            guard let resource = described[index], let name = rd_kafka_ConfigResource_name(resource) else { continue }
            let topic = String(cString: name)
            let error = rd_kafka_ConfigResource_error(resource)
            switch error {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                break
            case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
                continue
            default:
                var failure = KafkaError.rdKafka(error, "could not describe the configs of topic '\(topic)'")
                if let text = rd_kafka_ConfigResource_error_string(resource) {
                    failure.message += " (\(String(cString: text)))"
                }
                throw failure
            }
            var entryCount = 0
            var values: TopicConfigs = [:]
            if let entries = rd_kafka_ConfigResource_configs(resource, &entryCount) {
                for entryIndex in 0..<entryCount {
                    guard let entry = entries[entryIndex], let key = rd_kafka_ConfigEntry_name(entry),
                        let value = rd_kafka_ConfigEntry_value(entry)
                    else { continue }
                    values[String(cString: key)] = String(cString: value)
                }
            }
            configs[topic] = values
        }
        return configs
    }

    // MARK: - Side topic checks

    /// What a topic the relay writes to (a retry tier, the dead-letter topic) must provide, for
    /// ``configWarnings(_:topics:configs:)``.
    public struct TopicRequirement: Sendable, Hashable {
        /// The topic.
        public var name: String
        /// Records must be kept at least this long (`retention.ms`). Default: `nil` (any retention).
        public var minimumRetention: Duration?
        /// Why, as the warning words it, e.g. `the longest retry delay (1h)`. Default: `""`.
        public var retentionReason: String
        /// Fewer partitions than this are warned about. Default: `1` (any count).
        public var minimumPartitions: Int
        /// Why, as the warning words it. Default: `""`.
        public var partitionsReason: String
        /// Whether `cleanup.policy=compact` is fine: only where a record's key says all there is to keep.
        /// Default: `false` (compaction would drop records that share a key).
        public var allowsCompaction: Bool

        /// Creates a requirement.
        public init(
            name: String,
            minimumRetention: Duration? = nil,
            retentionReason: String = "",
            minimumPartitions: Int = 1,
            partitionsReason: String = "",
            allowsCompaction: Bool = false
        ) {
            self.name = name
            self.minimumRetention = minimumRetention
            self.retentionReason = retentionReason
            self.minimumPartitions = minimumPartitions
            self.partitionsReason = partitionsReason
            self.allowsCompaction = allowsCompaction
        }
    }

    /// The ways existing topics fall short of `requirements`, each a sentence with what to change: fewer
    /// partitions than required, `min.insync.replicas` above or equal to the replication factor (every or any
    /// broker failure stops `acks=all` writes), retention shorter than required, compaction where records share
    /// keys. Topics missing from `topics` are skipped (their absence is another check's business); a topic
    /// without configs (the broker did not describe them) is checked for partitions only.
    ///
    /// - Parameters:
    ///   - requirements: what each topic must provide.
    ///   - topics: the cluster's topics (partitions, replication factor).
    ///   - configs: ``describeTopicConfigs(_:)`` of the topics.
    /// - Returns: one sentence per shortfall.
    public static func configWarnings(
        _ requirements: [TopicRequirement],
        topics: [TopicDescription],
        configs: [String: TopicConfigs]
    ) -> [String] {
        var warnings: [String] = []
        for requirement in requirements {
            let name = requirement.name
            guard let topic = topics.first(where: { $0.name == name }) else { continue }
            let alter = "kafka-configs --bootstrap-server BROKER --alter --entity-type topics --entity-name \(name)"
            if topic.partitionCount < requirement.minimumPartitions {
                warnings.append(
                    "topic '\(name)' has \(topic.partitionCount) partition(s), fewer than \(requirement.minimumPartitions)"
                        + " (\(requirement.partitionsReason)); add partitions with 'kafka-topics --bootstrap-server "
                        + "BROKER --alter --topic \(name) --partitions \(requirement.minimumPartitions)'")
            }
            guard let values = configs[name] else { continue }
            let replicas = topic.replicationFactor
            if let minimum = values["min.insync.replicas"].flatMap({ Int($0) }), replicas > 0 {
                if minimum > replicas {
                    warnings.append(
                        "topic '\(name)' has min.insync.replicas=\(minimum) but replication factor \(replicas): every "
                            + "acks=all write to it fails (NOT_ENOUGH_REPLICAS); lower it with '\(alter) --add-config "
                            + "min.insync.replicas=\(max(1, replicas - 1))' or raise the replication factor "
                            + "(kafka-reassign-partitions)")
                } else if minimum == replicas && replicas > 1 {
                    warnings.append(
                        "topic '\(name)' has min.insync.replicas=\(minimum) equal to its replication factor: while any "
                            + "one of its brokers is down, writes to it fail and failed records cannot be retried or "
                            + "dead-lettered; set '\(alter) --add-config min.insync.replicas=\(replicas - 1)' or raise "
                            + "the replication factor")
                }
            }
            if let required = requirement.minimumRetention, let text = values["retention.ms"],
                let retention = Int64(text), retention >= 0
            {
                let requiredMilliseconds = milliseconds(required)
                if retention < requiredMilliseconds {
                    warnings.append(
                        "topic '\(name)' keeps records for retention.ms=\(retention) (\(describeMilliseconds(retention)))"
                            + ", less than \(requirement.retentionReason): records can be deleted before they are "
                            + "read; set '\(alter) --add-config retention.ms=\(requiredMilliseconds)' or more")
                }
            }
            if !requirement.allowsCompaction, let policy = values["cleanup.policy"], policy.contains("compact") {
                warnings.append(
                    "topic '\(name)' has cleanup.policy=\(policy): compaction keeps only the last record of each key, "
                        + "so earlier failed records of the same key vanish; set '\(alter) --add-config "
                        + "cleanup.policy=delete'")
            }
        }
        return warnings
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? .max : scaled + attoseconds / 1_000_000_000_000_000
    }

    /// `7d`, `1h`, `90s`, `250ms`: a retention or delay as the warnings write it.
    public static func describe(retention: Duration) -> String {
        describeMilliseconds(milliseconds(retention))
    }

    /// `7d`, `1h`, `90s`, `250ms`: a retention for people.
    static func describeMilliseconds(_ milliseconds: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("min", 60_000), ("s", 1000)]
        where milliseconds >= size && milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}

// MARK: - Unsupported requests

extension KafkaError {
    /// Whether the broker does not implement the request (an old Kafka, or a Kafka-compatible broker that leaves
    /// parts of the protocol out), so that a caller can skip an optional check.
    public var isUnsupportedRequest: Bool {
        guard let code = librdkafkaCode else { return false }
        return [
            RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE, RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION,
            RD_KAFKA_RESP_ERR_INVALID_REQUEST, RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED,
        ].contains { $0.rawValue == code }
    }
}
