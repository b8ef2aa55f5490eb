import CRdKafka
import Dispatch
import Foundation
import Logging

/// Owns an `rd_kafka_t` pointer. librdkafka handles are thread-safe; the box only makes that visible to Swift.
final class RDKafkaHandle: @unchecked Sendable {
    /// Set once, before any thread or callback can see the box.
    private(set) var pointer: OpaquePointer!

    init() {}

    /// False until ``set(_:)``: a client whose `init` threw before `rd_kafka_new` succeeded has no handle to free.
    var isSet: Bool { pointer != nil }

    func set(_ pointer: OpaquePointer) {
        precondition(self.pointer == nil, "RDKafkaHandle set twice")
        self.pointer = pointer
    }
}

/// Runs blocking librdkafka calls (sync commit, metadata, committed offsets, watermarks) off the cooperative pool.
enum RDKafkaBlocking {
    static let queue = DispatchQueue(label: "KafkaClient.blocking", attributes: .concurrent)

    /// Runs `body` on ``queue`` and waits for it; when the task is cancelled, returns at once with `.cancelled`.
    ///
    /// librdkafka's blocking calls end only at their own timeout: a synchronous commit to a broker that accepts
    /// connections but never answers waits for `socket.timeout.ms` (60 s by default). A task group that is
    /// cancelled at shutdown (the relay's commit loop) must not wait that long for a child; the call goes on in
    /// the background, and the client is freed only after it (its handle counts as in use until then).
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
        let call = PendingCall<T>()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard call.wait(continuation) else { return }
                queue.async {
                    call.finish(Result { () throws(KafkaError) -> T in try body() })
                }
            }
        } onCancel: {
            call.finish(
                .failure(
                    KafkaError(
                        code: .cancelled,
                        message:
                            "stopped waiting for a blocking Kafka call: the task was cancelled; the call may still complete"
                    )))
        }
        return try result.get()
    }
}

/// Starts a named, dedicated OS thread (never the Swift cooperative pool) for a poll loop.
enum RDKafkaThread {
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { body() }
        thread.name = name
        thread.start()
    }
}

/// Routes librdkafka's log lines into swift-log.
enum RDKafkaLog {
    /// The logger a client's log callback writes to, boxed to be the client's opaque pointer.
    final class Sink: Sendable {
        let logger: Logger
        init(logger: Logger) { self.logger = logger }
    }

    /// Logs one librdkafka line (from a `rd_kafka_conf_set_log_cb` callback) through `logger`: repeated identical
    /// lines (of any client logging through a logger of that label) appear once per 10 s, with how many were held back
    /// (``LogRepeatLimiter/librdkafka``).
    static func forward(
        _ rk: OpaquePointer?, level: Int32, facility: UnsafePointer<CChar>?, text: UnsafePointer<CChar>?,
        logger: Logger
    ) {
        let facility = facility.map { String(cString: $0) } ?? ""
        let line = text.map { String(cString: $0) } ?? ""
        // "… failed: Connection refused (after 0ms in state CONNECT)": the timing varies, the line is the same.
        let stable = line.range(of: " (after ").map { String(line[..<$0.lowerBound]) } ?? line
        let limiter = LogRepeatLimiter.librdkafka
        // By logger, not by client: a process's producer, consumer and admin client log the same broker failing
        // alike, through one logger.
        guard case .log(let repeated) = limiter.admit("\(logger.label)|\(level)|\(facility)|\(stable)") else {
            return
        }
        var metadata: Logger.Metadata = ["librdkafka.facility": "\(facility)"]
        var message = "librdkafka: \(line)"
        if repeated > 0 {
            metadata["librdkafka.repeated"] = "\(repeated)"
            message +=
                " (repeated \(repeated) more time\(repeated == 1 ? "" : "s") in the last \(limiter.interval.components.seconds)s)"
        }
        logger.log(level: self.level(syslog: level), "\(message)", metadata: metadata)
    }

    static func level(syslog: Int32) -> Logger.Level {
        switch syslog {
        case ...3: return .error
        case 4: return .warning
        case 5, 6: return .info
        default: return .debug
        }
    }
}
