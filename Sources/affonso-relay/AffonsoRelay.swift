import ArgumentParser
import Foundation

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
            DLQCommand.self,
        ]
    )

    /// Like ArgumentParser's, except that bad flags exit 2 with one line (SPEC.md §1), not 64 with the usage.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                let line = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
                FileHandle.standardError.write(Data("affonso-relay: \(line) (see --help)\n".utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
