import Foundation
import KafkaClient
import Logging
import Rules

// MARK: - DeadLetterReplayer

/// `dlq replay`: sends selected dead letters through the relay's normal path again. Each is re-mapped with today's
/// rules (a dry run shows the outcome) and written to the first retry tier with its attempts reset and `not_before`
/// now, so the running relay delivers it under the same rate limit, ordering and retry rules as everything else.
/// What was replayed is remembered in `<dead-letter topic>.replayed`, so a second replay sends nothing new. Dead
/// letters that today's rules still fail are left alone (and not remembered) until the rule is fixed.
public struct DeadLetterReplayer: Sendable {
    /// Which dead letters to replay.
    public struct Selection: Sendable {
        /// Only this rule's dead letters. Default: all.
        public var rule: String?
        /// Only this class. Default: all.
        public var errorClass: ErrorClass?
        /// Only those dead-lettered at or after this time. Default: all.
        public var since: Date?
        public init(rule: String? = nil, errorClass: ErrorClass? = nil, since: Date? = nil) {
            self.rule = rule
            self.errorClass = errorClass
            self.since = since
        }

        /// Whether a dead letter with these relay headers is selected.
        public func contains(_ envelope: RetryEnvelope) -> Bool {
            (rule == nil || envelope.rule == rule) && (errorClass == nil || envelope.errorClass == errorClass)
                && (since.map { envelope.notBefore >= $0 } ?? true)
        }
    }

    /// What happened to one selected dead letter.
    public struct Entry: Sendable {
        public var deadLetter: DeadLetterReader.DeadLetter
        /// Today's rules' outcome for the record.
        public var outcome: RecordOutcome
        /// False when it had been replayed before (and was not sent again).
        public var isNew: Bool

        /// Whether today's rules map the record into events without errors. A dead letter they still fail (or no
        /// longer match) is not sent and not remembered, so it can be replayed once the rule is fixed.
        public var mapsCleanly: Bool {
            guard case .results(let results) = outcome, !results.isEmpty else { return false }
            return results.allSatisfy { $0.error == nil }
        }

        /// Whether the replay sends it (or, in a dry run, would).
        public var isSent: Bool { isNew && mapsCleanly }
    }

    public var service: RelayServiceConfiguration
    public var rules: RuleSet
    public var logger: Logger

    public init(service: RelayServiceConfiguration, rules: RuleSet, logger: Logger) {
        self.service = service
        self.rules = rules
        self.logger = logger
    }

    /// The topic that remembers replayed dead letters (one record per replayed dead letter, keyed by its coordinates).
    public var replayedTopic: String { Self.replayedTopic(of: service.pipeline.retry.deadLetterTopic) }

    /// `<dead-letter topic>.replayed`.
    static func replayedTopic(of deadLetterTopic: String) -> String { deadLetterTopic + ".replayed" }

    /// Re-maps the selected dead letters and, unless `dryRun`, writes the new ones to the first retry tier.
    /// - Returns: every selected dead letter with its outcome under today's rules.
    /// - Throws: ``KafkaError`` when the topics cannot be read or written; ``RelayError`` when no retry tier exists.
    public func replay(_ selection: Selection, dryRun: Bool) async throws -> [Entry] {
        guard let tier = service.pipeline.retry.tiers.first else {
            throw RelayError(
                code: .invalidConfiguration,
                message: "dlq replay needs a retry tier to send through; add one under retry.tiers"
            )
        }
        let brokers = service.consumer.bootstrapServers
        let properties = service.consumer.properties
        let letters = try await DeadLetterReader.read(
            topic: service.pipeline.retry.deadLetterTopic, bootstrapServers: brokers, properties: properties,
            selecting: selection.contains, logger: logger
        ).letters
        // A dry run changes nothing: without the topic of replays, nothing was replayed yet.
        let replayed: Set<String>
        if dryRun {
            let exists = try await TopicProvisioner.exists(
                replayedTopic, bootstrapServers: brokers, properties: properties, logger: logger)
            replayed = exists ? try await replayedKeys() : []
        } else {
            try await TopicProvisioner.ensure(
                [replayedTopic], bootstrapServers: brokers, properties: properties,
                replicationFactor: service.pipeline.retry.replicationFactor, logger: logger)
            replayed = try await replayedKeys()
        }
        var entries: [Entry] = []
        let producer = try KafkaProducer(configuration: service.producer, logger: logger)
        do {
            for letter in letters {
                let key = "\(letter.coordinates)"
                let entry = Entry(deadLetter: letter, outcome: remap(letter), isNew: !replayed.contains(key))
                entries.append(entry)
                guard entry.isSent, !dryRun else { continue }
                try await resend(letter, to: tier.topic, producer: producer)
                _ = try await producer.send(topic: replayedTopic, key: Array(key.utf8), value: Array("{}".utf8))
            }
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
        return entries
    }

    /// Today's rules on the dead letter's original record (the named rule, or all rules when it had none).
    func remap(_ letter: DeadLetterReader.DeadLetter) -> RecordOutcome {
        let envelope = letter.envelope
        if let dropped = letter.message.headers.last(where: { $0.key == RetryEnvelope.HeaderName.valueDropped }) {
            let original = envelope.original
            return .failed(
                RulesError(
                    code: .recordTooLarge,
                    message: "this dead letter holds no value (\(dropped.stringValue ?? "?") bytes were too large to "
                        + "write); the original record is at \(original.topic)[\(original.partition)]@"
                        + "\(original.offset): raise message.max.bytes on the broker and in kafka.client_properties, "
                        + "then produce it to \(original.topic) again"
                ))
        }
        let record = SourceRecord(
            letter.message, at: envelope.original, originalTimestamp: envelope.originalTimestamp)
        return rules.apply(record, onlyRule: envelope.rule.isEmpty ? nil : envelope.rule)
    }

    private func resend(_ letter: DeadLetterReader.DeadLetter, to topic: String, producer: KafkaProducer) async throws {
        var envelope = letter.envelope
        envelope.attempt = 0
        envelope.notBefore = Date()
        let headers = envelope.headers(
            keeping: letter.message.headers)
        _ = try await producer.send(
            topic: topic, key: letter.message.key, value: letter.message.value,
            headers: headers
        )
    }

    private func replayedKeys() async throws -> Set<String> {
        let records = try await DeadLetterReader.records(
            topic: replayedTopic, bootstrapServers: service.consumer.bootstrapServers,
            properties: service.consumer.properties, logger: logger)
        return Set(records.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } })
    }
}
