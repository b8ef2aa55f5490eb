import ArgumentParser

@main
struct AffonsoRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "affonso-relay",
        abstract: "Relays domain events from Kafka to Affonso's event API.",
        subcommands: [
            RunCommand.self,
            RulesCommand.self,
            CELCommand.self,
            SandboxCommand.self,
            TopicsCommand.self,
        ]
    )
}
