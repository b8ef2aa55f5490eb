import ArgumentParser
import Foundation
import KafkaClient
import Logging
import Relay
import Rules

extension RulesCommand {
    // MARK: - tap

    /// `rules tap`: live records of a topic, mapped as `rules apply` maps its input lines, without committing or
    /// sending anything (docs/rules.md, "rules tap").
    struct Tap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read live records of a topic; print what each would become, as `rules apply` does.",
            discussion: """
                Reads with a throwaway consumer group that commits nothing, and sends nothing to Affonso. Stops \
                after --limit records, or after --idle seconds without a record (the first may take up to 15 s), \
                and exits 0. Output: one {"results": […]}, {"skipped": true} or {"error": …} line per record.
                """
        )
        @OptionGroup var options: ConfigOption
        @Option(name: .long, help: "The topic to read.")
        var topic: String
        @Option(name: .long, help: "Stop after this many records.")
        var limit: Int = 10
        @Option(name: .long, help: "Stop after this many seconds without a record.")
        var idle: Double = 5
        @Option(
            name: .long, help: "start: the oldest records still in the topic; end: only records produced from now on.")
        var from: Start = .start

        enum Start: String, ExpressibleByArgument, CaseIterable {
            case start, end
        }

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1, not \(limit)") }
            guard idle > 0, idle <= 3600 else {
                throw ValidationError("--idle must be a number of seconds above 0 and at most 3600, not \(idle)")
            }
        }

        func run() async throws {
            // Tapping never calls Affonso: no API key needed.
            let (loaded, logger, service) = try RelayCommandSupport.loadService(options.config, purpose: .kafka)
            try await RelayCommandSupport.requireBroker(service, logger: logger)
            let ruleSet = loaded.ruleSet
            let groupID = DeadLetterReader.throwawayGroupID()
            logger.info(
                "rules tap: reading \(topic) with the throwaway group \(groupID); nothing is committed or sent",
                metadata: ["kafka.group": "\(groupID)"])
            let output = FileHandle.standardOutput
            try await DeadLetterReader.forEachRecord(
                topic: topic,
                bootstrapServers: service.consumer.bootstrapServers,
                properties: service.consumer.properties,
                groupID: groupID,
                start: from == .end ? .latest : .earliest,
                limit: limit,
                idleTimeout: .milliseconds(Int64((idle * 1000).rounded())),
                maximumBufferedBytes: service.consumer.maximumBufferedBytes,
                logger: logger
            ) { message in
                let outcome = ruleSet.apply(DeadLetterReader.sourceRecord(message))
                output.write(Data(ApplyLine.line(for: outcome) + [0x0A]))
                return true
            }
        }
    }
}
