import ArgumentParser
import RelayConfig

/// `affonso-relay config check --config relay.yaml`: validates everything `run` would, without starting.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate relay.yaml.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check relay.yaml as `run` reads it: keys, values, environment references, librdkafka "
                + "client_properties, rules. Prints file:line:col: message per problem; exit 2 on any error.",
            discussion: """
                Every ${VAR} must be set and the Affonso key must be given, as for `run`; nothing connects to \
                Kafka or Affonso. `rules check` checks the same file without needing the environment.
                """
        )

        @Option(name: .long, help: "Path to relay.yaml.")
        var config: String

        func run() async throws {
            let loaded = try RelayCommandSupport.load(config)
            try RelayCommandSupport.checkRuntime(loaded, config, requiresAPIKey: true)
            do {
                _ = try loaded.configuration.serviceConfiguration(file: config)
            } catch {
                for diagnostic in error.diagnostics { RelayCommandSupport.printError(diagnostic.description) }
                throw ExitCode(2)
            }
            for warning in loaded.warnings { print(warning.description) }
            let rules = loaded.ruleSet.ruleNames.count
            let properties = loaded.configuration.kafka.clientProperties.count
            print(
                "\(config): OK (\(rules) rule\(rules == 1 ? "" : "s"), \(properties) client propert"
                    + "\(properties == 1 ? "y" : "ies"))")
        }
    }
}
