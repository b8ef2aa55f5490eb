import CRdKafka

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks librdkafka properties (`kafka.client_properties`) before any client is made, so that a typo is a
/// configuration error with a location instead of a failure deep inside a starting service.
///
/// Every check uses a throwaway `rd_kafka_conf_t`; ``clientProblem(_:)`` also creates (and at once frees) a
/// producer and a consumer without bootstrap servers, so nothing connects anywhere and nothing is logged.
public enum KafkaClientProperties {
    /// A property librdkafka refused.
    public struct Rejection: Sendable, Hashable {
        /// The property as written.
        public var property: String
        /// The value as given (after environment expansion).
        public var value: String
        /// True when librdkafka has no property of this name; false when it refused the value.
        public var isUnknownProperty: Bool
        /// librdkafka's own explanation, e.g. `Invalid value "SASL_SSLL" for configuration property …`.
        public var reason: String
    }

    /// Sets `property` to `value` on a throwaway librdkafka configuration.
    /// - Parameters:
    ///   - property: a librdkafka property name, e.g. `sasl.password`.
    ///   - value: its value.
    /// - Returns: nil when librdkafka accepts it, otherwise why not.
    public static func rejection(_ property: String, _ value: String) -> Rejection? {
        guard let conf = rd_kafka_conf_new() else { return nil }
        defer { rd_kafka_conf_destroy(conf) }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(conf, property, value, &errorBuffer, errorBuffer.count)
        guard result != RD_KAFKA_CONF_OK else { return nil }
        return Rejection(
            property: property,
            value: value,
            isUnknownProperty: result == RD_KAFKA_CONF_UNKNOWN,
            reason: RDKafkaConfig.string(errorBuffer)
        )
    }

    /// Whether librdkafka can create the relay's clients from `properties` (each of which it accepts on its own):
    /// some problems only show when a client is made (a SASL mechanism this build lacks, an unreadable
    /// certificate, conflicting settings).
    /// - Parameter properties: the user's properties; bootstrap servers among them are left out.
    /// - Returns: nil when a producer and a consumer can be created, otherwise librdkafka's reason.
    public static func clientProblem(_ properties: [(String, String)]) -> String? {
        let ignored: Set<String> = ["bootstrap.servers", "metadata.broker.list"]
        let given = properties.filter { !ignored.contains($0.0) }
        let producer = given + [("enable.idempotence", "true"), ("acks", "all")]
        var consumer = given
        if !given.contains(where: { $0.0 == "group.id" }) { consumer.append(("group.id", "affonso-relay-check")) }
        if let problem = problem(creating: RD_KAFKA_PRODUCER, producer) { return problem }
        return problem(creating: RD_KAFKA_CONSUMER, consumer)
    }

    /// Like ``clientProblem(_:)``, with exactly the properties the producer and the consumer of these configurations
    /// would be created with (their defaults and enforced settings included), bootstrap servers left out.
    /// - Parameters:
    ///   - producer: the producer's configuration.
    ///   - consumer: the consumer's configuration.
    ///   - optionalDefaults: the consumer's tuning defaults an older librdkafka may not know, skipped there as the
    ///     consumer skips them. Default (nil): the consumer's.
    /// - Returns: nil when both can be created, otherwise librdkafka's reason.
    public static func clientProblem(
        producer: KafkaProducerConfiguration, consumer: KafkaConsumerConfiguration,
        optionalDefaults: [(String, String)]? = nil
    ) -> String? {
        let ignored: Set<String> = ["bootstrap.servers", "metadata.broker.list"]
        let producerProperties = producer.librdkafkaProperties.filter { !ignored.contains($0.0) }
        if let problem = problem(creating: RD_KAFKA_PRODUCER, producerProperties) { return problem }
        let explicit = Set(consumer.librdkafkaProperties.map(\.0))
        let optional = (optionalDefaults ?? KafkaConsumerConfiguration.optionalLibrdkafkaProperties)
            .filter { !explicit.contains($0.0) }
        let consumerProperties = consumer.librdkafkaProperties.filter { !ignored.contains($0.0) } + optional
        return problem(creating: RD_KAFKA_CONSUMER, consumerProperties, optional: optional.count)
    }

    /// Every property name the loaded librdkafka knows (for "did you mean" hints).
    public static let names: [String] = {
        var buffer: UnsafeMutablePointer<CChar>?
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else { return [] }
        rd_kafka_conf_properties_show(stream)
        fclose(stream)
        guard let buffer else { return [] }
        defer { free(buffer) }
        var names: [String] = []
        for line in String(cString: buffer).split(separator: "\n") where line.contains("|") {
            let name = line.prefix { $0 != " " && $0 != "|" }
            guard !name.isEmpty, name != "Property", name.contains("."), !name.hasPrefix("-") else { continue }
            names.append(String(name))
        }
        return names
    }()

    // MARK: - Internals

    /// - Parameter optional: how many of the last `properties` are tuning defaults an older librdkafka may not know
    ///   (skipped when refused, as the consumer skips them).
    private static func problem(
        creating type: rd_kafka_type_t, _ properties: [(String, String)], optional: Int = 0
    ) -> String? {
        guard let conf = rd_kafka_conf_new() else { return nil }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        for (index, (key, value)) in properties.enumerated() {
            let isOptional = index >= properties.count - optional
            guard rd_kafka_conf_set(conf, key, value, &errorBuffer, errorBuffer.count) == RD_KAFKA_CONF_OK || isOptional
            else {
                rd_kafka_conf_destroy(conf)
                return "\(key): \(RDKafkaConfig.string(errorBuffer))"
            }
        }
        // Silence the throwaway client: no log lines and no error callbacks reach the terminal.
        rd_kafka_conf_set_log_cb(conf) { _, _, _, _ in }
        rd_kafka_conf_set_error_cb(conf) { _, _, _, _ in }
        guard let handle = rd_kafka_new(type, conf, &errorBuffer, errorBuffer.count) else {
            // On failure the configuration still belongs to us.
            rd_kafka_conf_destroy(conf)
            return RDKafkaConfig.string(errorBuffer)
        }
        rd_kafka_destroy(handle)
        return nil
    }
}
