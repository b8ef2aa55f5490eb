import CRdKafka

/// Builds an `rd_kafka_conf_t` from key/value pairs; throws on the first key librdkafka rejects.
enum RDKafkaConfig {
    /// Returns a new configuration; the caller owns it until handed to `rd_kafka_new`.
    /// `optional` properties are tuning defaults that older librdkafka versions may not know; they are skipped
    /// when librdkafka does not accept them.
    static func make(
        _ properties: [(String, String)],
        optional: [(String, String)] = [],
        client: String
    ) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorBuffer = [CChar](repeating: 0, count: 512)
        let explicit = Set(properties.map(\.0))
        for (key, value) in optional where !explicit.contains(key) {
            _ = rd_kafka_conf_set(conf, key, value, &errorBuffer, errorBuffer.count)
        }
        for (key, value) in properties {
            let result = rd_kafka_conf_set(conf, key, value, &errorBuffer, errorBuffer.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = string(errorBuffer)
                throw KafkaError(
                    code: .configuration,
                    message:
                        "\(client) configuration property '\(key)' was rejected: \(reason). Check the name and value against librdkafka's CONFIGURATION.md."
                )
            }
        }
        return conf
    }

    /// Merges defaults with the user's passthrough properties; the user's keys win unless listed in `enforced`.
    static func merge(
        defaults: [(String, String)],
        properties: [String: String],
        enforced: [(String, String)] = []
    ) -> [(String, String)] {
        var result: [(String, String)] = []
        var seen: Set<String> = []
        let enforcedKeys = Set(enforced.map(\.0))
        for (key, value) in enforced {
            result.append((key, value))
            seen.insert(key)
        }
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) where !enforcedKeys.contains(key) {
            result.append((key, value))
            seen.insert(key)
        }
        for (key, value) in defaults where !seen.contains(key) {
            result.append((key, value))
        }
        return result
    }

    /// Creates a client handle from a configuration (consumed on success and on failure).
    static func newHandle(
        type: rd_kafka_type_t, conf: OpaquePointer, client: String
    ) throws(KafkaError) -> OpaquePointer {
        var errorBuffer = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errorBuffer, errorBuffer.count) else {
            rd_kafka_conf_destroy(conf)
            let reason = string(errorBuffer)
            throw KafkaError(
                code: .configuration,
                message: "could not create the \(client): \(reason). Check the configuration properties."
            )
        }
        return handle
    }

    /// The text of a NUL-terminated C buffer.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whole milliseconds of `duration`, saturating at Int's bounds instead of trapping.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = Int(seconds).multipliedReportingOverflow(by: 1000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (total, carry) = whole.addingReportingOverflow(Int(attoseconds / 1_000_000_000_000_000))
        return carry ? (seconds < 0 ? .min : .max) : total
    }

    /// A timeout as librdkafka takes it: milliseconds, 0...Int32.max (about 24.8 days).
    static func timeoutMilliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: max(0, milliseconds(duration)))
    }
}
