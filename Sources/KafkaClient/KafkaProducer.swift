import CRdKafka
import Foundation
import Logging
import Synchronization

/// An idempotent producer (`enable.idempotence=true`, `acks=all`) whose ``send(topic:key:value:headers:)``
/// returns only once the broker acknowledged the record. Delivery reports are served on a dedicated thread.
/// Call ``close()`` at shutdown: it flushes outstanding records.
public final class KafkaProducer: Sendable {
    /// Where an acknowledged record was written.
    public struct DeliveryReport: Sendable, Hashable {
        /// The topic.
        public var topic: String
        /// The partition the record was written to.
        public var partition: Int32
        /// The record's offset.
        public var offset: Int64
    }

    private struct State {
        var isClosing = false
        var isDestroyed = false
        var activeCalls = 0
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let configuration: KafkaProducerConfiguration
    let logger: Logger
    private let handle = RDKafkaHandle()
    private let state = Mutex(State())

    /// Creates the producer and starts its delivery-report thread.
    /// - Parameters:
    ///   - configuration: brokers and options.
    ///   - logger: where librdkafka's and the producer's logs go.
    /// - Throws: ``KafkaError`` `.configuration` when a property is rejected.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        self.configuration = configuration
        self.logger = logger
        LibrdkafkaVersion.check(logger: logger)
        let conf = try RDKafkaConfig.make(configuration.librdkafkaProperties, client: "Kafka producer")
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
            guard let message, let opaque = message.pointee._private else { return }
            let delivery = Unmanaged<Delivery>.fromOpaque(opaque).takeRetainedValue()
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                delivery.finish(
                    .success(
                        DeliveryReport(
                            topic: delivery.topic,
                            partition: message.pointee.partition,
                            offset: message.pointee.offset
                        )
                    )
                )
            } else {
                delivery.finish(
                    .failure(
                        KafkaError.rdKafka(message.pointee.err, "could not deliver a record to \(delivery.topic)"))
                )
            }
        }
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, text in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let producer = Unmanaged<KafkaProducer>.fromOpaque(opaque).takeUnretainedValue()
            RDKafkaLog.forward(rk, level: level, facility: facility, text: text, logger: producer.logger)
        }
        rd_kafka_conf_set_error_cb(conf) { rk, error, reason, opaque in
            guard let opaque else { return }
            let producer = Unmanaged<KafkaProducer>.fromOpaque(opaque).takeUnretainedValue()
            let code = rd_kafka_resp_err_t(rawValue: error)
            // A broker that does not answer is reported once per outage by the relay (the start-up wait, the
            // consumer) and librdkafka's own lines (rate-limited); at warning, these came once per reconnect attempt.
            let isUnreachable = code == RD_KAFKA_RESP_ERR__TRANSPORT || code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
            producer.logger.log(
                level: code == RD_KAFKA_RESP_ERR__FATAL ? .error : isUnreachable ? .debug : .warning,
                "Kafka producer error: \(reason.map { String(cString: $0) } ?? "")",
                metadata: [
                    "error": "\(KafkaError.rdKafka(code, "producer", isFatal: code == RD_KAFKA_RESP_ERR__FATAL))"
                ]
            )
        }
        handle.set(try RDKafkaConfig.newHandle(type: RD_KAFKA_PRODUCER, conf: conf, client: "Kafka producer"))
        RDKafkaThread.start(name: "kafka-producer") { [self] in pollLoop() }
    }

    // MARK: - Send

    /// Sends a record and waits until the broker acknowledged it (all in-sync replicas).
    /// - Parameters:
    ///   - topic: the topic.
    ///   - key: the record key (partitions by its hash); `nil` for none.
    ///   - value: the record value.
    ///   - headers: record headers, in order.
    /// - Returns: where the record was written.
    /// - Throws: ``KafkaError`` when the record could not be delivered (`isRetriable` says whether to try again).
    public func send(
        topic: String,
        key: [UInt8]?,
        value: [UInt8],
        headers: [KafkaHeader] = []
    ) async throws(KafkaError) -> DeliveryReport {
        while true {
            let delivery = Delivery(topic: topic)
            let result: Result<DeliveryReport, KafkaError> = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    guard delivery.start(continuation) else { return }
                    let opaque = Unmanaged.passRetained(delivery).toOpaque()
                    do throws(KafkaError) {
                        try withHandle { rk throws(KafkaError) in
                            try produce(rk, topic: topic, key: key, value: value, headers: headers, opaque: opaque)
                        }
                    } catch {
                        Unmanaged<Delivery>.fromOpaque(opaque).release()
                        delivery.finish(.failure(error))
                    }
                }
            } onCancel: {
                delivery.finish(
                    .failure(
                        KafkaError(
                            code: .cancelled,
                            message:
                                "stopped waiting for the broker to acknowledge a record to \(topic): the task was cancelled; the record may still be written"
                        )))
            }
            if case .failure(let error) = result,
                error.librdkafkaCode == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue
            {
                try? await Task.sleep(for: .milliseconds(5))
                continue
            }
            return try result.get()
        }
    }

    /// Waits until every outstanding record was delivered or failed.
    /// - Parameter timeout: how long to wait.
    /// - Throws: ``KafkaError`` `.timeout` when records are still outstanding.
    public func flush(timeout: Duration) async throws(KafkaError) {
        try await RDKafkaBlocking.run { [self] () throws(KafkaError) in
            try withHandle { rk throws(KafkaError) in
                let error = rd_kafka_flush(rk, RDKafkaConfig.timeoutMilliseconds(timeout))
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError.rdKafka(
                        error,
                        "\(rd_kafka_outq_len(rk)) records were still not delivered after \(timeout)"
                    )
                }
            }
        }
    }

    /// Flushes (up to `flushTimeout`, by default ``KafkaProducerConfiguration/flushTimeout``), stops the delivery
    /// thread and frees librdkafka. Records still outstanding fail their `send` with an error. Idempotent.
    public func close(flushTimeout: Duration? = nil) async {
        do {
            try await flush(timeout: flushTimeout ?? configuration.flushTimeout)
        } catch {
            logger.warning("Kafka producer closed with undelivered records", metadata: ["error": "\(error)"])
        }
        await withCheckedContinuation { continuation in
            let isDone = state.withLock { state -> Bool in
                if state.isDestroyed { return true }
                state.isClosing = true
                state.closeWaiters.append(continuation)
                return false
            }
            if isDone { continuation.resume() }
        }
    }

    // MARK: - Internals

    private func pollLoop() {
        let rk = handle.pointer!
        while !state.withLock({ $0.isClosing }) {
            rd_kafka_poll(rk, 100)
        }
        // Fail what is still outstanding, and serve those reports so no `send` waits forever.
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
        for _ in 0..<200 where rd_kafka_outq_len(rk) > 0 { rd_kafka_poll(rk, 10) }
        state.withLock { $0.isDestroyed = true }
        while state.withLock({ $0.activeCalls > 0 }) { Thread.sleep(forTimeInterval: 0.001) }
        rd_kafka_destroy(rk)
        let waiters = state.withLock { state in
            defer { state.closeWaiters = [] }
            return state.closeWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func withHandle<T>(_ body: (OpaquePointer) throws(KafkaError) -> T) throws(KafkaError) -> T {
        let isOpen = state.withLock { state -> Bool in
            guard !state.isDestroyed, !state.isClosing else { return false }
            state.activeCalls += 1
            return true
        }
        guard isOpen else {
            throw KafkaError(code: .closed, message: "the Kafka producer is closed; create a new one.")
        }
        defer { state.withLock { $0.activeCalls -= 1 } }
        return try body(handle.pointer)
    }

    private func produce(
        _ rk: OpaquePointer,
        topic: String,
        key: [UInt8]?,
        value: [UInt8],
        headers: [KafkaHeader],
        opaque: UnsafeMutableRawPointer
    ) throws(KafkaError) {
        var rawHeaders: OpaquePointer?
        if !headers.isEmpty {
            rawHeaders = rd_kafka_headers_new(headers.count)
            for header in headers {
                if let headerValue = header.value {
                    headerValue.withUnsafeBytes { bytes in
                        _ = rd_kafka_header_add(rawHeaders, header.key, -1, bytes.baseAddress, bytes.count)
                    }
                } else {
                    _ = rd_kafka_header_add(rawHeaders, header.key, -1, nil, 0)
                }
            }
        }
        let error: OpaquePointer? = topic.withCString { topicName in
            value.withUnsafeBytes { valueBytes in
                withKey(key) { keyPointer, keyCount in
                    var values = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 6)
                    values[0].vtype = RD_KAFKA_VTYPE_TOPIC
                    values[0].u.cstr = topicName
                    values[1].vtype = RD_KAFKA_VTYPE_VALUE
                    values[1].u.mem.ptr = UnsafeMutableRawPointer(mutating: valueBytes.baseAddress)
                    values[1].u.mem.size = valueBytes.count
                    values[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    values[2].u.i = RD_KAFKA_MSG_F_COPY
                    values[3].vtype = RD_KAFKA_VTYPE_OPAQUE
                    values[3].u.ptr = opaque
                    var count = 4
                    if let keyPointer {
                        values[count].vtype = RD_KAFKA_VTYPE_KEY
                        values[count].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyPointer)
                        values[count].u.mem.size = keyCount
                        count += 1
                    }
                    if let rawHeaders {
                        values[count].vtype = RD_KAFKA_VTYPE_HEADERS
                        values[count].u.headers = rawHeaders
                        count += 1
                    }
                    return rd_kafka_produceva(rk, values, count)
                }
            }
        }
        if let error {
            if let rawHeaders { rd_kafka_headers_destroy(rawHeaders) }
            throw KafkaError.rdKafka(consuming: error, "could not send a record to \(topic)")
        }
    }

    private func withKey<R>(_ key: [UInt8]?, _ body: (UnsafeRawPointer?, Int) -> R) -> R {
        guard let key else { return body(nil, 0) }
        return key.withUnsafeBytes { bytes in body(bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), bytes.count) }
    }
}

/// The continuation of one `send`, retained in librdkafka's message opaque until its delivery report.
private final class Delivery: Sendable {
    typealias Outcome = Result<KafkaProducer.DeliveryReport, KafkaError>
    private enum State {
        case created
        case waiting(CheckedContinuation<Outcome, Never>)
        /// Finished before the waiter arrived (cancelled first), or after it was resumed.
        case finished(Outcome?)
    }

    let topic: String
    private let state = Mutex(State.created)

    init(topic: String) {
        self.topic = topic
    }

    /// Registers the waiter; false (and resumed at once) when the delivery already finished (cancelled).
    func start(_ continuation: CheckedContinuation<Outcome, Never>) -> Bool {
        let early = state.withLock { state -> Outcome? in
            if case .finished(let outcome) = state {
                return outcome ?? .failure(KafkaError(code: .cancelled, message: "cancelled"))
            }
            state = .waiting(continuation)
            return nil
        }
        if let early { continuation.resume(returning: early) }
        return early == nil
    }

    /// Resumes the waiter with the first outcome: the delivery report, a produce error or the cancellation.
    func finish(_ outcome: Outcome) {
        let waiter = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            switch state {
            case .created:
                state = .finished(outcome)
                return nil
            case .waiting(let continuation):
                state = .finished(nil)
                return continuation
            case .finished:
                return nil
            }
        }
        waiter?.resume(returning: outcome)
    }
}
