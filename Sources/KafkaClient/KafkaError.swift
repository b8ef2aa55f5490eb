import CRdKafka

/// The one error type of `KafkaClient`: what went wrong, where, and whether retrying can help.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is; callers decide on it.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case configuration
            case notAssigned = "not_assigned"
            case closed
            case timeout
            case broker
            case fatal
            case topicAlreadyExists = "topic_already_exists"
            case unknownTopicOrPartition = "unknown_topic_or_partition"
            case messageTooLarge = "message_too_large"
            case cancelled
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A configuration property was rejected by librdkafka or is missing.
        public static let configuration = Code(.configuration)
        /// An offset was stored, sought or paused for a partition this consumer does not own.
        public static let notAssigned = Code(.notAssigned)
        /// The client was already closed.
        public static let closed = Code(.closed)
        /// The operation did not finish in time.
        public static let timeout = Code(.timeout)
        /// The broker or librdkafka reported an error (see ``KafkaError/librdkafkaCode``).
        public static let broker = Code(.broker)
        /// librdkafka raised a fatal error; the client can no longer be used.
        public static let fatal = Code(.fatal)
        /// The topic to create exists already.
        public static let topicAlreadyExists = Code(.topicAlreadyExists)
        /// The topic or partition does not exist.
        public static let unknownTopicOrPartition = Code(.unknownTopicOrPartition)
        /// The record is larger than the producer or broker accepts.
        public static let messageTooLarge = Code(.messageTooLarge)
        /// The task waiting for the operation was cancelled (the operation itself may still complete).
        public static let cancelled = Code(.cancelled)

        /// A label-safe short name, e.g. for metrics.
        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A human sentence: what was wrong, where, and what to do.
    public var message: String
    /// The librdkafka error code (`rd_kafka_resp_err_t`), when librdkafka reported the error.
    public var librdkafkaCode: Int32?
    /// True when the client cannot continue and must be recreated.
    public var isFatal: Bool
    /// True when the same operation may succeed if tried again later.
    public var isRetriable: Bool
    /// Where in our code the error was raised.
    public var file: String
    /// Where in our code the error was raised.
    public var line: Int

    /// Creates an error.
    public init(
        code: Code,
        message: String,
        librdkafkaCode: Int32? = nil,
        isFatal: Bool = false,
        isRetriable: Bool = false,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.librdkafkaCode = librdkafkaCode
        self.isFatal = isFatal
        self.isRetriable = isRetriable
        self.file = file
        self.line = line
    }

    public var description: String {
        // Users read this (logs, command errors): the message, never the Swift type name.
        var text = message
        if let librdkafkaCode { text += " (librdkafka error \(librdkafkaCode))" }
        return text
    }

    /// A label-safe short description for metrics.
    public var shortDescription: String { code.description }
}

// MARK: - librdkafka codes

extension KafkaError {
    /// Maps a librdkafka error code to a `KafkaError`, with `context` saying what we were doing.
    static func rdKafka(
        _ error: rd_kafka_resp_err_t,
        _ context: String,
        isFatal: Bool = false,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        let name = String(cString: rd_kafka_err2name(error))
        let text = String(cString: rd_kafka_err2str(error))
        let code: Code
        switch error {
        case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: code = .topicAlreadyExists
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC,
            RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
            code = .unknownTopicOrPartition
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE: code = .messageTooLarge
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
            code = .timeout
        case RD_KAFKA_RESP_ERR__FATAL: code = .fatal
        default: code = isFatal ? .fatal : .broker
        }
        return KafkaError(
            code: code,
            message: "\(context): \(name): \(text)",
            librdkafkaCode: error.rawValue,
            isFatal: isFatal || error == RD_KAFKA_RESP_ERR__FATAL,
            isRetriable: !isFatal && Self.isRetriable(error),
            file: file,
            line: line
        )
    }

    /// Maps an `rd_kafka_error_t` (and destroys it).
    static func rdKafka(
        consuming error: OpaquePointer,
        _ context: String,
        file: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        var result = KafkaError.rdKafka(
            rd_kafka_error_code(error),
            context,
            isFatal: rd_kafka_error_is_fatal(error) != 0,
            file: file,
            line: line
        )
        result.message = "\(context): \(String(cString: rd_kafka_error_string(error)))"
        result.isRetriable = result.isRetriable || rd_kafka_error_is_retriable(error) != 0
        return result
    }

    private static func isRetriable(_ error: rd_kafka_resp_err_t) -> Bool {
        switch error {
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__QUEUE_FULL,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR__WAIT_COORD,
            RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
            RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            return true
        default:
            return false
        }
    }
}
