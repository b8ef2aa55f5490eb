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
            let loaded = try RelayCommandSupport.load(config)
            let logger = RelayCommandSupport.bootstrapLogging(loaded.configuration.logging)
            let service: RelayServiceConfiguration
            do {
                service = try loaded.configuration.serviceConfiguration(file: config)
            } catch {
                for diagnostic in error.diagnostics { RelayCommandSupport.printError(diagnostic.description) }
                throw ExitCode(2)
            }
            let created = try await TopicProvisioner.ensure(
                service.relayTopics,
                bootstrapServers: service.consumer.bootstrapServers,
                properties: service.consumer.properties,
                logger: logger
            )
            for topic in service.relayTopics {
                print("\(created.contains(topic) ? "created" : "exists ") \(topic)")
            }
        }
    }
}
