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

    /// How many selected dead letters a replay sent, found replayed before, and left alone.
    public struct Summary: Sendable, Equatable {
        public var selected = 0
        /// Sent (or, in a dry run, would be).
        public var sent = 0
        /// Replayed before, so not sent again.
        public var alreadyReplayed = 0
        /// Today's rules still fail them (or match them no more): not sent, not remembered.
        public var failing: Int { selected - sent - alreadyReplayed }
        /// Dead letters written after the replay began (by their timestamp), left for the next replay: a replayed
        /// event that failed again comes back only then, never in the same replay.
        public var writtenSince = 0
        public init() {}
    }

    /// Re-maps the selected dead letters and, unless `dryRun`, writes the new ones to the first retry tier, one
    /// at a time as they are read: memory stays flat however large the dead-letter topic is. Dead letters written
    /// after the replay began (a replayed event that failed again) are left for the next replay.
    /// - Parameter each: called with every selected dead letter and its outcome under today's rules, in offset
    ///   order within each partition.
    /// - Returns: the counts.
    /// - Throws: ``KafkaError`` when the topics cannot be read or written; ``RelayError`` when no retry tier exists.
    @discardableResult
    public func replay(
        _ selection: Selection, dryRun: Bool, each: (Entry) -> Void = { _ in }
    ) async throws -> Summary {
        guard let tier = service.pipeline.retry.tiers.first else {
            throw RelayError(
                code: .invalidConfiguration,
                message: "dlq replay needs a retry tier to send through; add one under retry.tiers"
            )
        }
        let began = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        let brokers = service.consumer.bootstrapServers
        let properties = service.consumer.properties
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
        var summary = Summary()
        let producer = try KafkaProducer(configuration: service.producer, logger: logger)
        do {
            try await DeadLetterReader.forEachRecord(
                topic: service.pipeline.retry.deadLetterTopic, bootstrapServers: brokers, properties: properties,
                maximumBufferedBytes: service.consumer.maximumBufferedBytes, logger: logger
            ) { message in
                guard let envelope = try? RetryEnvelope.parse(message.headers), selection.contains(envelope)
                else { return false }
                guard (message.timestampMilliseconds ?? .min) < began else {
                    summary.writtenSince += 1
                    return false
                }
                let letter = DeadLetterReader.DeadLetter(
                    coordinates: RecordCoordinates(
                        topic: message.topic, partition: message.partition, offset: message.offset),
                    message: message, envelope: envelope)
                let key = "\(letter.coordinates)"
                let entry = Entry(deadLetter: letter, outcome: remap(letter), isNew: !replayed.contains(key))
                summary.selected += 1
                if !entry.isNew { summary.alreadyReplayed += 1 }
                if entry.isSent { summary.sent += 1 }
                if entry.isSent, !dryRun {
                    try await resend(letter, to: tier.topic, producer: producer)
                    _ = try await producer.send(topic: replayedTopic, key: Array(key.utf8), value: Array("{}".utf8))
                }
                // Reported once it was sent: a send that fails ends the replay before its line.
                each(entry)
                return true
            }
        } catch {
            await producer.close()
            throw error
        }
        await producer.close()
        return summary
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
