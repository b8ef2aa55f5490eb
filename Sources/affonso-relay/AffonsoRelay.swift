import AffonsoAPI
import ArgumentParser
import Foundation
import KafkaClient

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
}
