import ArgumentParser
import Foundation
import Relay
import RelayConfig
import Rules

/// `affonso-relay dlq inspect` and `dlq replay` (docs/configuration.md, "Commands"): what is in the dead-letter topic,
/// and why; sending it again.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect and replay dead letters.",
        subcommands: [Inspect.self, Replay.self]
    )

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead letters: time, rule, error class, message, original coordinates."
        )

        @Option(name: .long, help: "Path to relay.yaml.")
        var config: String

        @Option(name: .long, help: "Show at most this many.")
        var limit: Int = 1000

        @Flag(name: .long, help: "One JSON object per dead letter instead of a table.")
        var json = false

        @OptionGroup var select: Selecting

        func run() async throws {
            // Reading dead letters never calls Affonso: no API key needed.
            let (_, logger, service) = try RelayCommandSupport.loadService(config, purpose: .kafka)
            let selection = try select.selection()
            try await RelayCommandSupport.requireBroker(service, logger: logger)
            let (letters, unreadable) = try await DeadLetterReader.read(
                topic: service.pipeline.retry.deadLetterTopic,
                bootstrapServers: service.consumer.bootstrapServers,
                properties: service.consumer.properties,
                limit: limit,
                selecting: selection.contains,
                logger: logger
            )
            for letter in letters {
                let envelope = letter.envelope
                let time = envelope.notBefore.formatted(.iso8601)
                let original = "\(envelope.original.topic)[\(envelope.original.partition)]@\(envelope.original.offset)"
                if json {
                    let object: [String: Any] = [
                        "time": time, "rule": envelope.rule, "class": envelope.errorClass.rawValue,
                        "message": envelope.errorMessage, "status": envelope.errorStatus as Any,
                        "attempt": envelope.attempt, "original_topic": envelope.original.topic,
                        "original_partition": Int(envelope.original.partition),
                        "original_offset": envelope.original.offset,
                        "dead_letter": "\(letter.coordinates)",
                    ]
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    let rule = envelope.rule.isEmpty ? "-" : envelope.rule
                    print("\(time)  \(rule)  \(envelope.errorClass)  \(original)  \(envelope.errorMessage)")
                }
            }
            if !json {
                print(
                    "\(letters.count) dead letter\(letters.count == 1 ? "" : "s")"
                        + (unreadable > 0 ? ", \(unreadable) record(s) without relay headers skipped" : ""))
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-map selected dead letters with today's rules and send them again through the relay.",
            discussion: """
                Selected dead letters go to the first retry tier with their attempts reset, so the running relay \
                delivers them under its rate limit and retry rules. Replayed ones are remembered in \
                <dead_letter_topic>.replayed: a second replay sends nothing new.
                """
        )

        @Option(name: .long, help: "Path to relay.yaml.")
        var config: String

        @OptionGroup var select: Selecting

        @Flag(name: .customLong("dry-run"), help: "Show what would be sent; send nothing.")
        var dryRun = false

        func run() async throws {
            let (loaded, logger, service) = try RelayCommandSupport.loadService(config)
            let selection = try select.selection()
            try await RelayCommandSupport.requireBroker(service, logger: logger)
            let replayer = DeadLetterReplayer(service: service, rules: loaded.ruleSet, logger: logger)
            let summary = try await replayer.replay(selection, dryRun: dryRun) { entry in
                let envelope = entry.deadLetter.envelope
                let verb =
                    !entry.isNew
                    ? "already replayed" : !entry.mapsCleanly ? "not sent" : dryRun ? "would replay" : "replayed"
                print(
                    "\(verb)  \(entry.deadLetter.coordinates)  \(envelope.errorClass)  → \(Self.describe(entry.outcome))"
                )
            }
            print(
                "\(summary.selected) selected, \(summary.sent) \(dryRun ? "would be sent" : "sent"), "
                    + "\(summary.alreadyReplayed) already replayed"
                    + (summary.failing > 0
                        ? ", \(summary.failing) not sent because today's rules still fail them (fix the rule in "
                            + "\(config), check it with `affonso-relay rules test`, then replay again)" : "")
                    + (summary.writtenSince > 0
                        ? "; \(summary.writtenSince) dead-lettered after this replay began are left for the next one"
                        : "")
            )
        }

        static func describe(_ outcome: RecordOutcome) -> String {
            switch outcome {
            case .skipped: return "no rule matches now"
            case .failed(let error): return "\(error.errorClass): \(error.message)"
            case .results(let results):
                return results.map { result in
                    if let event = result.event { return "\(result.rule): \(event.eventType) \(event.externalEventID)" }
                    return "\(result.rule): \(result.error?.description ?? "error")"
                }.joined(separator: "; ")
            }
        }
    }

    /// Which dead letters `inspect` lists and `replay` sends: the same options for both, so what `inspect` shows is
    /// what `replay` would take.
    struct Selecting: ParsableArguments {
        @Option(name: .long, help: "Only dead letters of this rule.")
        var rule: String?

        @Option(name: .customLong("error-class"), help: "Only dead letters of this class, e.g. mapping.")
        var errorClass: String?

        @Option(name: .long, help: "Only dead letters since this time: RFC 3339, or a duration ago such as 2h.")
        var since: String?

        /// The selection; an unknown class or an unusable `--since` is printed and exits with 2.
        func selection() throws -> DeadLetterReplayer.Selection {
            var selection = DeadLetterReplayer.Selection(rule: rule)
            if let errorClass {
                guard let parsed = ErrorClass(rawValue: errorClass) else {
                    let known = ErrorClass.allCases.map(\.rawValue).joined(separator: ", ")
                    RelayCommandSupport.printError("--error-class \(errorClass) is not one of: \(known)")
                    throw ExitCode(2)
                }
                selection.errorClass = parsed
            }
            if let since {
                switch Self.parseSince(since) {
                case .success(let date): selection.since = date
                case .failure(let problem):
                    RelayCommandSupport.printError(problem.message)
                    throw ExitCode(2)
                }
            }
            return selection
        }

        struct SinceProblem: Error {
            var message: String
        }

        /// `--since`: an RFC 3339 time, or a duration ago as relay.yaml writes durations (`30m`, `2h`, `1h30m`,
        /// `7d`, at most ten years). A time in the future is refused: it would select nothing, silently.
        static func parseSince(_ text: String, now: Date = Date()) -> Result<Date, SinceProblem> {
            if let date = try? Date(text, strategy: .iso8601) {
                guard date <= now else {
                    return .failure(
                        SinceProblem(message: "--since \(text) is in the future, so no dead letter would be selected"))
                }
                return .success(date)
            }
            if let ago = RelayConfigLoader.duration(text) {
                let seconds = Double(ago.components.seconds) + Double(ago.components.attoseconds) / 1e18
                return .success(now.addingTimeInterval(-seconds))
            }
            let shown = text.count > 40 ? text.prefix(40) + "…" : Substring(text)
            return .failure(
                SinceProblem(
                    message: "--since \(shown) is neither an RFC 3339 time (such as 2026-01-01T00:00:00Z) nor a "
                        + "duration such as 30m, 2h or 7d (at most 10 years)"))
        }
    }
}
