import KafkaClient
import Logging
import Relay

extension RelayCommandSupport {
    /// Fails within `timeout` when no broker of `kafka.brokers` answers, instead of letting a command hang on
    /// librdkafka's reconnect loop: `no Kafka broker answered at HOST:PORT within 10s; check kafka.brokers and the
    /// network` (exit 1, through the command's error path).
    /// - Throws: ``KafkaError`` from ``KafkaAdmin/waitForBroker(timeout:)``.
    static func requireBroker(
        _ service: RelayServiceConfiguration, logger: Logger, timeout: Duration = .seconds(10)
    ) async throws {
        let admin = try KafkaAdmin(
            bootstrapServers: service.consumer.bootstrapServers, properties: service.consumer.properties,
            timeout: timeout, logger: logger)
        do {
            try await admin.waitForBroker(timeout: timeout)
            await admin.close()
        } catch {
            await admin.close()
            throw error
        }
    }
}
