import CRdKafka
import Logging
import Synchronization

/// The librdkafka library this process runs with (which may differ from the headers it was built against).
public struct LibrdkafkaVersion: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The version as librdkafka prints it, e.g. `2.16.0`.
    public var string: String
    /// The numeric version, `0xMMmmrrxx` (major, minor, revision, pre-release).
    public var number: Int

    /// The oldest librdkafka we support without a warning.
    public static let minimumRecommended = LibrdkafkaVersion(string: "2.2.0", number: 0x0202_00ff)

    /// Whether ``check(logger:)`` logged already.
    private static let hasBeenChecked = Atomic(false)

    public var description: String { string }

    public static func < (lhs: LibrdkafkaVersion, rhs: LibrdkafkaVersion) -> Bool { lhs.number < rhs.number }

    /// The version of the loaded librdkafka.
    public static var current: LibrdkafkaVersion {
        LibrdkafkaVersion(string: String(cString: rd_kafka_version_str()), number: Int(rd_kafka_version()))
    }

    /// Logs the loaded librdkafka version, once per process (every client calls it); warns when it is older than
    /// ``minimumRecommended``.
    /// - Parameter logger: where to log.
    public static func check(logger: Logger) {
        guard !hasBeenChecked.exchange(true, ordering: .relaxed) else { return }
        let current = Self.current
        if current < minimumRecommended {
            logger.warning(
                "librdkafka \(current) is older than \(minimumRecommended); brokers such as Tansu may refuse it. Put a newer librdkafka.so.1 on LD_LIBRARY_PATH (scripts/setup links 2.16 into .tools/lib).",
                metadata: ["librdkafka.version": "\(current)"]
            )
        } else {
            logger.info("using librdkafka \(current)", metadata: ["librdkafka.version": "\(current)"])
        }
    }
}

/// The librdkafka version this process runs with; `KafkaClient.librdkafkaVersion` from other modules.
public var librdkafkaVersion: LibrdkafkaVersion { .current }
