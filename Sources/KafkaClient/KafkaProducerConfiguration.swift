/// How a ``KafkaProducer`` connects and sends.
public struct KafkaProducerConfiguration: Sendable, Hashable {
    /// Broker addresses, `host:port`.
    public var bootstrapServers: [String]
    /// How long records wait to be batched with others.
    /// Default: `.milliseconds(5)`
    public var linger: Duration
    /// How long librdkafka keeps trying to deliver a record before ``KafkaProducer/send(topic:key:value:headers:)``
    /// fails with a timeout.
    /// Default: `.seconds(30)`
    public var messageTimeout: Duration
    /// How long ``KafkaProducer/close()`` waits for outstanding records.
    /// Default: `.seconds(10)`
    public var flushTimeout: Duration
    /// The client id sent to brokers.
    /// Default: `"affonso-relay"`
    public var clientID: String
    /// Any librdkafka property (SASL, TLS, compression, …), passed verbatim; these win over the fields above,
    /// except `enable.idempotence=true` and `acks=all`, which are always set.
    /// Default: `[:]`
    public var properties: [String: String]

    /// Creates a configuration.
    /// - Parameter bootstrapServers: broker addresses, `host:port`.
    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
        self.linger = .milliseconds(5)
        self.messageTimeout = .seconds(30)
        self.flushTimeout = .seconds(10)
        self.clientID = "affonso-relay"
        self.properties = [:]
    }

    var librdkafkaProperties: [(String, String)] {
        RDKafkaConfig.merge(
            defaults: [
                ("bootstrap.servers", bootstrapServers.joined(separator: ",")),
                ("client.id", clientID),
                ("linger.ms", String(RDKafkaConfig.milliseconds(linger))),
                ("message.timeout.ms", String(RDKafkaConfig.milliseconds(messageTimeout))),
            ],
            properties: properties,
            enforced: [("enable.idempotence", "true"), ("acks", "all")]
        )
    }
}
