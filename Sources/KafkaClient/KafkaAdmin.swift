import CRdKafka
import Logging
import Synchronization

/// Creates and lists topics. Every call blocks a thread of its own, never the cooperative pool, and returns at once
/// with ``KafkaError/Code-swift.struct/cancelled`` when its task is cancelled (the blocking librdkafka call ends in
/// the background). Call ``close()`` when done.
public final class KafkaAdmin: Sendable {
    /// A topic to create.
    public struct TopicSpecification: Sendable, Hashable {
        /// The topic name.
        public var name: String
        /// Default: `1`
        public var partitions: Int
        /// Replicas of each partition; ``brokerDefaultReplicationFactor`` (`-1`) lets the broker choose
        /// (`default.replication.factor`, Kafka 2.4 or newer), which is what a production cluster is set up for.
        ///
        /// Default: `-1` (the broker's default)
        public var replicationFactor: Int
        /// Topic configs, e.g. `["retention.ms": "604800000"]`.
        /// Default: `[:]`
        public var configs: [String: String]

        /// Creates a specification.
        public init(
            name: String,
            partitions: Int = 1,
            replicationFactor: Int = brokerDefaultReplicationFactor,
            configs: [String: String] = [:]
        ) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }
    }

    /// The replication factor that lets the broker choose (`default.replication.factor`).
    public static let brokerDefaultReplicationFactor = -1

    /// A topic as listed by the cluster.
    public struct TopicDescription: Sendable, Hashable {
        /// The topic name.
        public var name: String
        /// How many partitions it has.
        public var partitionCount: Int
        /// How many replicas its first partition has (0 when it has no partitions).
        public var replicationFactor: Int

        /// Creates a description (the cluster's metadata makes them; tests too).
        public init(name: String, partitionCount: Int, replicationFactor: Int = 0) {
            self.name = name
            self.partitionCount = partitionCount
            self.replicationFactor = replicationFactor
        }
    }

    private let handle = RDKafkaHandle()
    private let lifecycle = Mutex(Lifecycle())
    private let bootstrapServers: [String]
    let timeout: Duration
    /// What librdkafka's log callback reaches (its opaque): a box of its own, so that a callback during
    /// `rd_kafka_destroy` in `deinit` never touches the admin client being deinitialised.
    private let logSink: RDKafkaLog.Sink

    /// Creates an admin client.
    /// - Parameters:
    ///   - bootstrapServers: broker addresses, `host:port`.
    ///   - properties: any librdkafka property (SASL, TLS, …), passed verbatim.
    ///   - timeout: how long each operation may take.
    ///   - logger: logs the librdkafka version and librdkafka's own lines (repeated lines once per 10 s).
    /// - Throws: ``KafkaError`` `.configuration` when a property is rejected.
    public init(
        bootstrapServers: [String],
        properties: [String: String] = [:],
        timeout: Duration = .seconds(30),
        logger: Logger
    ) throws(KafkaError) {
        self.bootstrapServers = bootstrapServers
        self.timeout = timeout
        logSink = RDKafkaLog.Sink(logger: logger)
        LibrdkafkaVersion.check(logger: logger)
        let conf = try RDKafkaConfig.make(
            RDKafkaConfig.merge(
                defaults: [("bootstrap.servers", bootstrapServers.joined(separator: ",")), ("log_level", "3")],
                properties: properties
            ),
            client: "Kafka admin client"
        )
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(logSink).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, text in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let sink = Unmanaged<RDKafkaLog.Sink>.fromOpaque(opaque).takeUnretainedValue()
            RDKafkaLog.forward(rk, level: level, facility: facility, text: text, logger: sink.logger)
        }
        handle.set(try RDKafkaConfig.newHandle(type: RD_KAFKA_PRODUCER, conf: conf, client: "Kafka admin client"))
    }

    deinit {
        // `init` may have thrown before `rd_kafka_new` succeeded (a rejected property): then there is no handle,
        // and `rd_kafka_destroy(NULL)` would crash.
        // A running call holds the client, so none runs now.
        if handle.isSet && !lifecycle.withLock({ $0.isDestroyed }) { rd_kafka_destroy(handle.pointer) }
    }

    /// Frees librdkafka, at once or, while a cancelled call still blocks a thread, when that call ends. Idempotent.
    public func close() async {
        let destroysNow = lifecycle.withLock { lifecycle in lifecycle.close() }
        guard destroysNow else { return }
        await withCheckedContinuation { continuation in
            RDKafkaThread.start(name: "kafka-admin") { [handle] in
                rd_kafka_destroy(handle.pointer)
                continuation.resume()
            }
        }
    }

    // MARK: - Brokers

    /// Waits until a broker answers a metadata request: commands call it first, so that a broker that does not
    /// answer is one clear error instead of a hang.
    /// - Parameter timeout: how long to wait. Default: 10 s.
    /// - Throws: ``KafkaError`` `.timeout` (`no Kafka broker answered at HOST:PORT within 10s; check kafka.brokers
    ///   and the network`), or the broker's own error when it answered with one (e.g. failed authentication).
    public func waitForBroker(timeout: Duration = .seconds(10)) async throws(KafkaError) {
        let wait = { @Sendable [bootstrapServers] (rk: OpaquePointer) throws(KafkaError) in
            var metadata: UnsafePointer<rd_kafka_metadata_t>?
            let error = rd_kafka_metadata(rk, 0, nil, &metadata, RDKafkaConfig.timeoutMilliseconds(timeout))
            if let metadata { rd_kafka_metadata_destroy(metadata) }
            switch error {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                return
            case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                RD_KAFKA_RESP_ERR__RESOLVE:
                throw KafkaError(
                    code: .timeout,
                    message: "no Kafka broker answered at \(bootstrapServers.joined(separator: ", ")) within "
                        + "\(Self.describe(timeout)); check kafka.brokers and the network",
                    isRetriable: true
                )
            default:
                throw KafkaError.rdKafka(error, "Kafka broker at \(bootstrapServers.joined(separator: ", "))")
            }
        }
        try await run(wait)
    }

    /// `10s`, `1.5s`: how the relay's messages write durations.
    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds)s" }
        return "\(Double(seconds) + Double(attoseconds) / 1e18)s"
    }

    // MARK: - Topics

    /// Creates a topic.
    /// - Parameter topic: name, partitions, replication factor and configs.
    /// - Throws: ``KafkaError`` `.topicAlreadyExists` when it exists, or another code when the broker refused it.
    public func createTopic(_ topic: TopicSpecification) async throws(KafkaError) {
        try await run { [timeout] rk throws(KafkaError) in try Self.create(rk, topic, timeout: timeout) }
    }

    /// Creates a topic unless it exists already (whatever its partition count).
    /// - Parameter topic: name, partitions, replication factor and configs.
    /// - Returns: true when this call created it.
    /// - Throws: ``KafkaError`` when the broker refused it for any other reason.
    @discardableResult
    public func ensureTopic(_ topic: TopicSpecification) async throws(KafkaError) -> Bool {
        do {
            try await createTopic(topic)
            return true
        } catch  where error.code == .topicAlreadyExists {
            return false
        }
    }

    /// Lists the cluster's topics with their partition counts, sorted by name.
    public func listTopics() async throws(KafkaError) -> [TopicDescription] {
        try await describeCluster().topics
    }

    /// The cluster as its metadata describes it: how many brokers, and every topic.
    public struct ClusterDescription: Sendable, Hashable {
        /// Brokers in the metadata.
        public var brokerCount: Int
        /// The topics, sorted by name.
        public var topics: [TopicDescription]

        /// Creates a description (the cluster's metadata makes them; tests too).
        public init(brokerCount: Int, topics: [TopicDescription]) {
            self.brokerCount = brokerCount
            self.topics = topics
        }
    }

    /// Reads the cluster's metadata: its brokers and topics (with partition counts and replication factors).
    public func describeCluster() async throws(KafkaError) -> ClusterDescription {
        try await run { [timeout, bootstrapServers] rk throws(KafkaError) in
            var metadata: UnsafePointer<rd_kafka_metadata_t>?
            let error = rd_kafka_metadata(rk, 1, nil, &metadata, RDKafkaConfig.timeoutMilliseconds(timeout))
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                throw KafkaError.rdKafka(error, "could not list topics from \(bootstrapServers.joined(separator: ","))")
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            var topics: [TopicDescription] = []
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[index]
                guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                let replicas = topic.partition_cnt > 0 ? Int(topic.partitions[0].replica_cnt) : 0
                topics.append(
                    TopicDescription(
                        name: String(cString: topic.topic), partitionCount: Int(topic.partition_cnt),
                        replicationFactor: replicas)
                )
            }
            return ClusterDescription(
                brokerCount: Int(metadata.pointee.broker_cnt), topics: topics.sorted { $0.name < $1.name })
        }
    }

    // MARK: - Internals

    /// Runs a blocking admin call on a thread of its own: admin calls are rare, and their timeouts hold even while
    /// other clients' blocking calls fill the shared queue (whose width is the number of cores). When the task is
    /// cancelled, returns at once with `.cancelled`; the call runs to its own timeout in the background, and frees
    /// librdkafka after it if ``close()`` was called meanwhile.
    func run<T: Sendable>(
        _ body: @escaping @Sendable (OpaquePointer) throws(KafkaError) -> T
    ) async throws(KafkaError) -> T {
        guard lifecycle.withLock({ $0.startCall() }) else {
            throw KafkaError(code: .closed, message: "the Kafka admin client is closed; create a new one.")
        }
        let call = PendingCall<T>()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard call.wait(continuation) else {
                    endCall()
                    return
                }
                RDKafkaThread.start(name: "kafka-admin") { [self] in
                    call.finish(Result { () throws(KafkaError) -> T in try body(handle.pointer) })
                    endCall()
                }
            }
        } onCancel: {
            call.finish(.failure(KafkaError(code: .cancelled, message: "the Kafka admin call was cancelled")))
        }
        return try result.get()
    }

    /// A call ended: the last one after ``close()`` frees librdkafka (on the call's thread).
    private func endCall() {
        if lifecycle.withLock({ $0.endCall() }) { rd_kafka_destroy(handle.pointer) }
    }

    /// Whether the client is closed, how many calls run, and whether librdkafka was freed.
    private struct Lifecycle {
        var isClosed = false
        var isDestroyed = false
        var runningCalls = 0

        /// Whether a call may start (the client is open).
        mutating func startCall() -> Bool {
            guard !isClosed else { return false }
            runningCalls += 1
            return true
        }

        /// Whether the caller frees librdkafka now: the client is closed and this was its last call.
        mutating func endCall() -> Bool {
            runningCalls -= 1
            return destroyIfIdle()
        }

        /// Whether the caller frees librdkafka now: no call runs (else the last one frees it).
        mutating func close() -> Bool {
            guard !isClosed else { return false }
            isClosed = true
            return destroyIfIdle()
        }

        private mutating func destroyIfIdle() -> Bool {
            guard isClosed, runningCalls == 0, !isDestroyed else { return false }
            isDestroyed = true
            return true
        }
    }

    /// The librdkafka `NewTopic` of `topic` (partitions, replication factor, configs), as the CreateTopics request
    /// will carry it; the caller destroys it.
    static func newTopic(_ topic: TopicSpecification) throws(KafkaError) -> OpaquePointer {
        var errorBuffer = [CChar](repeating: 0, count: 512)
        guard
            topic.replicationFactor == brokerDefaultReplicationFactor || (1...10_000).contains(topic.replicationFactor),
            (1...Int(Int32.max)).contains(topic.partitions)
        else {
            throw KafkaError(
                code: .configuration,
                message: "invalid topic '\(topic.name)': \(topic.partitions) partitions with replication factor "
                    + "\(topic.replicationFactor); use at least 1 partition and a replication factor of -1 (the "
                    + "broker's default) or 1 to 10000"
            )
        }
        guard
            let newTopic = rd_kafka_NewTopic_new(
                topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errorBuffer, errorBuffer.count
            )
        else {
            throw KafkaError(
                code: .configuration,
                message: "invalid topic '\(topic.name)': \(RDKafkaConfig.string(errorBuffer))"
            )
        }
        for (key, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
            let error = rd_kafka_NewTopic_set_config(newTopic, key, value)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                rd_kafka_NewTopic_destroy(newTopic)
                throw KafkaError.rdKafka(error, "invalid config \(key)=\(value) for topic '\(topic.name)'")
            }
        }
        return newTopic
    }

    private static func create(_ rk: OpaquePointer, _ topic: TopicSpecification, timeout: Duration) throws(KafkaError) {
        let newTopic = try newTopic(topic)
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        try request(
            rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout: timeout, doing: "creating topic '\(topic.name)'",
            failing: "could not create topic '\(topic.name)'"
        ) { options, queue in
            var errorBuffer = [CChar](repeating: 0, count: 512)
            let milliseconds = RDKafkaConfig.timeoutMilliseconds(timeout)
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &errorBuffer, errorBuffer.count)
            var topics: [OpaquePointer?] = [newTopic]
            rd_kafka_CreateTopics(rk, &topics, 1, options, queue)
        } result: { event throws(KafkaError) in
            try createResult(event, topic)
        }
    }

    /// One admin request: `send` gets options with the request timeout and the queue its result arrives on; the
    /// result event, once its error was checked, goes to `result` (and is freed after it).
    /// - Parameters:
    ///   - doing: what is asked, for the timeout's message (`creating topic 'x'`).
    ///   - failing: the context of a refusal (`could not create topic 'x'`).
    static func request<T>(
        _ rk: OpaquePointer,
        _ operation: rd_kafka_admin_op_t,
        timeout: Duration,
        doing: String,
        failing: String,
        send: (_ options: OpaquePointer?, _ queue: OpaquePointer?) -> Void,
        result: (OpaquePointer) throws(KafkaError) -> T
    ) throws(KafkaError) -> T {
        var errorBuffer = [CChar](repeating: 0, count: 512)
        let queue = rd_kafka_queue_new(rk)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(rk, operation)
        defer { rd_kafka_AdminOptions_destroy(options) }
        let milliseconds = RDKafkaConfig.timeoutMilliseconds(timeout)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &errorBuffer, errorBuffer.count)
        send(options, queue)
        guard let event = rd_kafka_queue_poll(queue, milliseconds + 5000) else {
            throw KafkaError(
                code: .timeout,
                message: "\(doing) got no answer within \(describe(timeout)); is the broker reachable?",
                isRetriable: true
            )
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            var failure = KafkaError.rdKafka(eventError, failing)
            if let text = rd_kafka_event_error_string(event) { failure.message += " (\(String(cString: text)))" }
            throw failure
        }
        return try result(event)
    }

    private static func createResult(_ event: OpaquePointer, _ topic: TopicSpecification) throws(KafkaError) {
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
            let results = rd_kafka_CreateTopics_result_topics(result, &count)
        else { return }
        for index in 0..<count {
            let error = rd_kafka_topic_result_error(results[index])
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                var failure = KafkaError.rdKafka(error, "could not create topic '\(topic.name)'")
                if let text = rd_kafka_topic_result_error_string(results[index]) {
                    failure.message += " (\(String(cString: text)))"
                }
                throw failure
            }
        }
    }
}
