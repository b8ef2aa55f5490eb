import ArgumentParser
import Foundation
import Relay
import RelayConfig

/// `affonso-relay dlq inspect` (SPEC.md §1): what is in the dead-letter topic, and why.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Inspect dead letters.",
        subcommands: [Inspect.self]
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

        func run() async throws {
            let (_, logger, service) = try RelayCommandSupport.loadService(config)
            let (letters, unreadable) = try await DeadLetterReader.read(
                topic: service.pipeline.retry.deadLetterTopic,
                bootstrapServers: service.consumer.bootstrapServers,
                properties: service.consumer.properties,
                limit: limit,
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
}
