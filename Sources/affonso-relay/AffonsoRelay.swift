import AffonsoAPI
import ArgumentParser
import Foundation
import KafkaClient
import Rules

@main
struct AffonsoRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "affonso-relay",
        abstract: "Relays domain events from Kafka to Affonso's event API.",
        version: "affonso-relay \(AffonsoClient.version) (librdkafka \(LibrdkafkaVersion.current))",
        subcommands: [
            RunCommand.self,
            ConfigCommand.self,
            RulesCommand.self,
            CELCommand.self,
            SandboxCommand.self,
            TopicsCommand.self,
            DLQCommand.self,
        ]
    )

    /// Like ArgumentParser's, except that bad flags exit 2 with one line (not 64 with the usage), and errors are
    /// shown by their message, never by a Swift type name.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                let line = firstLine(of: error)
                FileHandle.standardError.write(Data("affonso-relay: \(line) (see --help)\n".utf8))
                Foundation.exit(2)
            }
            // Help, --version and exit codes the commands chose are ArgumentParser's to finish.
            if error is ExitCode || code == .success { exit(withError: error) }
            FileHandle.standardError.write(Data("affonso-relay: \(ErrorText.describe(error))\n".utf8))
            Foundation.exit(ErrorText.isConfiguration(error) ? 2 : code.rawValue)
        }
    }

    /// The line that names the bad flag. ArgumentParser reports a missing option before an unknown one, so
    /// `rules check --conf x` would say only "Missing expected argument '--config <config>'": then the
    /// arguments are parsed again with the missing option filled in, and an unknown option found that way wins.
    static func firstLine(of error: any Error) -> String {
        if let unknown = unknownSubcommand(Array(CommandLine.arguments.dropFirst())) { return unknown }
        let line = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        guard line.hasPrefix("Missing expected argument '--"),
            let option = line.split(separator: "'").dropFirst().first?.split(separator: " ").first
        else { return line }
        do {
            _ = try parseAsRoot(Array(CommandLine.arguments.dropFirst()) + [String(option), "x"])
        } catch {
            let retried = message(for: error).split(separator: "\n").first.map(String.init) ?? ""
            if retried.hasPrefix("Unknown option") { return retried }
        }
        return line
    }

    /// `rules chek --config x`: ArgumentParser would blame `--config` (unknown to `rules`); this names the word
    /// that is no subcommand, the closest one and the choices.
    /// - Returns: nil when every word before the first option is a subcommand (or there are none to choose from).
    static func unknownSubcommand(_ arguments: [String]) -> String? {
        var command: any ParsableCommand.Type = AffonsoRelay.self
        var path = [AffonsoRelay._commandName]
        for argument in arguments {
            let subcommands = command.configuration.subcommands
            guard !argument.hasPrefix("-"), argument != "help", !subcommands.isEmpty else { return nil }
            let names = subcommands.map { $0._commandName }
            guard let next = subcommands.first(where: { $0._commandName == argument }) else {
                let hint = Suggestion.closest(to: argument, in: names).map { "did you mean '\($0)'? " } ?? ""
                return "'\(path.joined(separator: " "))' has no subcommand '\(argument)'; \(hint)"
                    + "choose one of \(names.joined(separator: ", "))"
            }
            command = next
            path.append(argument)
        }
        return nil
    }
}
