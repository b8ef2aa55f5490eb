import CEL
import Foundation
import KafkaClient
import Rules

// MARK: - Mapping

extension DeliveryPipeline {
    /// The events (or dead letters) one record becomes: the rules applied to it (pure work, outside the lock).
    func jobs(for mapping: DeliveryCore.Mapping) -> [EventJob] {
        let (message, envelope, unusable, ticket) = (
            mapping.message, mapping.envelope, mapping.unusable, mapping.ticket
        )
        let source = RecordCoordinates(topic: message.topic, partition: message.partition, offset: message.offset)
        func deadLetter(_ rule: String, _ errorClass: ErrorClass, _ text: String) -> [EventJob] {
            [
                EventJob(
                    ticket: ticket, source: source, message: message, envelope: envelope, rule: rule,
                    work: .deadLetter(errorClass, text))
            ]
        }
        if let unusable {
            return deadLetter("", .decode, "retry record with unreadable relay headers: \(unusable)")
        }
        let original = envelope?.original ?? source
        let record = SourceRecord(message, at: original, originalTimestamp: envelope?.originalTimestamp)
        // A replayed dead letter without a rule (decode, unmatched) is mapped by every rule again.
        let onlyRule = envelope.flatMap { $0.rule.isEmpty ? nil : $0.rule }
        if let onlyRule, !rules.ruleNames.contains(onlyRule) {
            return deadLetter(
                onlyRule, .ruleRemoved,
                "rule '\(onlyRule)' no longer exists; restore it and replay the dead letter, or drop it"
            )
        }
        if let onlyRule, !rules.rule(onlyRule, readsTopic: original.topic) {
            return deadLetter(
                onlyRule, .ruleRemoved,
                "rule '\(onlyRule)' no longer reads topic '\(original.topic)'; add the topic back to its topics and "
                    + "replay the dead letter, or drop it"
            )
        }
        switch rules.apply(record, onlyRule: onlyRule) {
        case .skipped, .results([]):
            metrics.recordSkipped(topic: message.topic)
            guard configuration.delivery.unmatched == .deadLetter, envelope == nil else { return [] }
            return deadLetter(
                "", .mapping,
                "no rule matches topic '\(original.topic)' (delivery.unmatched: dead_letter)"
            )
        case .failed(let error):
            return deadLetter(error.rule ?? "", ErrorClass(rules: error), error.message)
        case .results(let results):
            return results.map { result in
                switch result.result {
                case .success(let event):
                    EventJob(
                        ticket: ticket, source: source, message: message, envelope: envelope,
                        rule: result.rule, work: .deliver(event))
                case .failure(let error):
                    EventJob(
                        ticket: ticket, source: source, message: message, envelope: envelope,
                        rule: result.rule, work: .deadLetter(ErrorClass(rules: error), error.message))
                }
            }
        }
    }
}

// MARK: - Conversions

extension ErrorClass {
    /// The class of a rules failure: `mapping`, `validation`, `decode` or `record_too_large`.
    init(rules error: RulesError) {
        self = ErrorClass(rawValue: error.errorClass) ?? .mapping
    }
}

extension CELTimestamp {
    /// A Kafka timestamp (milliseconds since the epoch, clamped to years 1–9999); before 1970 the nanoseconds stay
    /// positive.
    init(milliseconds: Int64) {
        let milliseconds = min(
            max(milliseconds, WallClock.millisecondRange.lowerBound), WallClock.millisecondRange.upperBound)
        var (seconds, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        if remainder < 0 {
            seconds -= 1
            remainder += 1000
        }
        self.init(seconds: seconds, nanos: Int32(remainder * 1_000_000))
    }

    init(date: Date) {
        self.init(milliseconds: WallClock.milliseconds(date))
    }
}

extension SourceRecord {
    /// A record read by the relay as its rules see it: at `original` (the source record's coordinates, for one read
    /// from a retry tier or the dead-letter topic; else its own), with its key, value, headers without the relay's
    /// own, and `originalTimestamp` when the relay headers carry one (else the record's own timestamp). The
    /// pipeline, `rules tap` and the replay's re-mapping build records alike, so a rule sees the same record in all
    /// three.
    init(_ message: KafkaConsumerMessage, at original: RecordCoordinates, originalTimestamp: Date?) {
        self.init(
            topic: original.topic,
            partition: original.partition,
            offset: original.offset,
            key: message.key,
            value: message.value,
            headers: message.headers.compactMap { header in
                guard !header.key.hasPrefix(RetryEnvelope.HeaderName.prefix), let value = header.value else {
                    return nil
                }
                return SourceRecord.Header(name: header.key, value: value)
            },
            timestamp: originalTimestamp.map(CELTimestamp.init(date:))
                ?? message.timestampMilliseconds.map(CELTimestamp.init(milliseconds:))
        )
    }
}
