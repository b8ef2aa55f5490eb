import CRdKafka
import Synchronization

/// librdkafka's in-process mock Kafka cluster, for unit tests that need no broker.
/// Point producers and consumers at ``bootstrapServers``. Call ``close()`` when done.
public final class KafkaMockCluster: Sendable {
    private let handle = RDKafkaHandle()
    private let isClosed = Mutex(false)
    /// Broker addresses of the mock cluster.
    public let bootstrapServers: [String]

    /// Starts a mock cluster.
    /// - Parameter brokers: how many brokers it has.
    /// - Throws: ``KafkaError`` when librdkafka cannot start it.
    public init(brokers: Int = 1) throws(KafkaError) {
        let conf = try RDKafkaConfig.make(
            [("test.mock.num.brokers", String(brokers)), ("log_level", "3")],
            client: "Kafka mock cluster"
        )
        let pointer = try RDKafkaConfig.newHandle(type: RD_KAFKA_PRODUCER, conf: conf, client: "Kafka mock cluster")
        handle.set(pointer)
        guard let cluster = rd_kafka_handle_mock_cluster(pointer) else {
            rd_kafka_destroy(pointer)
            throw KafkaError(code: .configuration, message: "librdkafka did not start a mock cluster")
        }
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster)).split(separator: ",").map(
            String.init)
    }

    deinit {
        // `init` may have thrown before `rd_kafka_new` succeeded (a rejected property): then there is no handle,
        // and `rd_kafka_destroy(NULL)` would crash.
        if handle.isSet && !isClosed.withLock({ $0 }) { rd_kafka_destroy(handle.pointer) }
    }

    /// Creates a topic on the mock cluster.
    /// - Parameters:
    ///   - name: the topic name.
    ///   - partitions: how many partitions it has.
    public func createTopic(_ name: String, partitions: Int) throws(KafkaError) {
        try call("could not create mock topic '\(name)'") { rd_kafka_mock_topic_create($0, name, Int32(partitions), 1) }
    }

    /// Delays every answer of a broker by `roundTripTime` (zero: answers at once). A delay longer than a client's
    /// `socket.timeout.ms` makes its requests time out, so the client takes the broker for down, without the
    /// listener closing. This is the way to take a broker away and back: this type has no way to take a broker
    /// down (librdkafka's `rd_kafka_mock_broker_set_down`), because going down closes the broker's listening socket
    /// and binds its port again at once, and librdkafka aborts the whole process (an assertion, "Failed to bind mock
    /// broker socket … Address already in use") when another socket took the port in between. A test that needs
    /// connections refused uses a port of its own that nothing listens on.
    public func setBroker(_ broker: Int32, roundTripTime: Duration) throws(KafkaError) {
        try call("could not set the round-trip time of mock broker \(broker)") {
            rd_kafka_mock_broker_set_rtt($0, broker, RDKafkaConfig.timeoutMilliseconds(roundTripTime))
        }
    }

    /// Makes a broker the leader of a partition: fetches and produces of the partition go there.
    /// - Parameters:
    ///   - topic: the topic.
    ///   - partition: the partition.
    ///   - broker: the broker id (1…brokers).
    public func setLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        try call("could not make mock broker \(broker) the leader of \(topic)[\(partition)]") {
            rd_kafka_mock_partition_set_leader($0, topic, partition, broker)
        }
    }

    /// Makes a broker the coordinator of a consumer group: the group's joins, heartbeats and commits go there, and
    /// fetches to the partitions' leaders (so that a test can delay the one and not the other).
    /// - Parameters:
    ///   - group: the group id.
    ///   - broker: the broker id (1…brokers).
    public func setCoordinator(ofGroup group: String, broker: Int32) throws(KafkaError) {
        try call("could not make mock broker \(broker) the coordinator of group '\(group)'") {
            rd_kafka_mock_coordinator_set($0, "group", group, broker)
        }
    }

    /// Runs one call on the mock cluster (nothing when the handle has none).
    /// - Throws: the call's error, with `failure` (what could not be done) as its context.
    private func call(
        _ failure: @autoclosure () -> String,
        _ body: (OpaquePointer) -> rd_kafka_resp_err_t
    ) throws(KafkaError) {
        guard let cluster = rd_kafka_handle_mock_cluster(handle.pointer) else { return }
        let error = body(cluster)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError.rdKafka(error, failure()) }
    }

    /// Stops the mock cluster. Idempotent.
    public func close() async {
        let wasClosed = isClosed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        let handle = handle
        // Not `RDKafkaBlocking.run`: a call cancelled before it was queued never runs there, and the cluster (its
        // threads and listening ports) would outlive this close. Destroying a mock cluster waits for nothing remote.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            RDKafkaBlocking.queue.async {
                rd_kafka_destroy(handle.pointer)
                continuation.resume()
            }
        }
    }
}
