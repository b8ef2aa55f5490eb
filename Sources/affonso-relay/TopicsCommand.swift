import ArgumentParser
import Relay
import RelayConfig

/// `affonso-relay topics ensure --config relay.yaml`: creates missing retry and dead-letter topics.
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Manage the relay's own topics.",
        subcommands: [Ensure.self]
    )

    struct Ensure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the retry-tier and dead-letter topics that are missing."
        )

        @Option(name: .long, help: "Path to relay.yaml.")
        var config: String

        func run() async throws {
            let (_, logger, service) = try RelayCommandSupport.loadService(config, purpose: .kafka)
            try await RelayCommandSupport.requireBroker(service, logger: logger)
            let created = try await TopicProvisioner.ensure(
                service.relayTopics,
                bootstrapServers: service.consumer.bootstrapServers,
                properties: service.consumer.properties,
                replicationFactor: service.pipeline.retry.replicationFactor,
                logger: logger
            )
            for topic in service.relayTopics {
                print("\(created.contains(topic) ? "created" : "exists ") \(topic)")
            }
        }
    }
}
