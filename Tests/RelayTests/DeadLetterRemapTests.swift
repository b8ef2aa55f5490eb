import AffonsoAPI
import Foundation
import KafkaClient
import Logging
import Rules
import Testing

@testable import Relay

/// `dlq replay` re-maps each dead letter with today's rules before it sends it: the rules must see the original
/// record (its topic, partition, offset and timestamp), not the dead letter's own, or the replay report shows an
/// event the relay would not send.
@Suite("Dead-letter replay: re-mapping")
struct DeadLetterRemapTests {
    static let original = RecordCoordinates(topic: "orders", partition: 1, offset: 5)
    static let firstSeen = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
    /// When the dead letter was written: a month later.
    static let deadLettered = Date(timeIntervalSince1970: 1_769_904_000)  // 2026-02-01T00:00:00Z

    static func replayer() throws -> DeadLetterReplayer {
        let rule = RuleDefinition(
            name: "paid", topics: ["orders"],
            event: [
                (field: "event_name", expression: "'paid'"),
                (field: "customer_id", expression: "payload.customer"),
                (field: "occurred_at", expression: "record.timestamp"),
                (field: "metadata", expression: "{'topic': record.topic, 'offset': record.offset}"),
            ])
        let compilation = RuleSet.compile([rule])
        let rules = try #require(compilation.ruleSet, "\(compilation.errors.map(\.message))")
        let service = RelayServiceConfiguration(
            consumer: KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:1"], groupID: "g", topics: ["orders"]),
            producer: KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"]),
            affonso: AffonsoClientConfiguration(credentials: .apiKey("sk_test")),
            pipeline: DeliveryPipelineConfiguration())
        return DeadLetterReplayer(service: service, rules: rules, logger: Logger(label: "test"))
    }

    /// A dead letter of `orders[1]@5`, as the relay writes it, read back from the dead-letter topic.
    static func deadLetter(extraHeaders: [KafkaHeader] = []) throws -> DeadLetterReader.DeadLetter {
        let envelope = RetryEnvelope.failure(
            after: nil, record: original, timestamp: firstSeen, rule: "paid", errorClass: .api5xx, message: "503",
            status: 503, attempt: 4, notBefore: deadLettered, now: deadLettered)
        let message = KafkaConsumerMessage(
            topic: "affonso-relay.dlq", partition: 0, offset: 9, key: Array("cus_1".utf8),
            value: Array(#"{"customer":"cus_1"}"#.utf8),
            headers: envelope.headers(keeping: [KafkaHeader(key: "trace", string: "t-1")]) + extraHeaders,
            timestampMilliseconds: Int64(deadLettered.timeIntervalSince1970 * 1000))
        let parsed = try #require(try RetryEnvelope.parse(message.headers))
        return DeadLetterReader.DeadLetter(
            coordinates: RecordCoordinates(topic: "affonso-relay.dlq", partition: 0, offset: 9), message: message,
            envelope: parsed)
    }

    @Test("the rules see the original record's coordinates and timestamp, not the dead letter's")
    func originalRecord() throws {
        let outcome = try Self.replayer().remap(Self.deadLetter())
        guard case .results(let results) = outcome, let result = results.first else {
            Issue.record("no event: \(outcome)")
            return
        }
        let event = try result.result.get()
        #expect(
            event.bodyString
                == #"{"customer_id":"cus_1","event_name":"paid","external_event_id":"paid:orders:1:5","#
                + #""metadata":{"offset":5,"topic":"orders"},"occurred_at":"2026-01-01T00:00:00Z"}"#)
    }

    @Test("a dead letter written without its value is not re-mapped: the failure names the original record")
    func valueDropped() throws {
        let dropped = KafkaHeader(key: RetryEnvelope.HeaderName.valueDropped, string: "5242880")
        let outcome = try Self.replayer().remap(Self.deadLetter(extraHeaders: [dropped]))
        guard case .failed(let error) = outcome else {
            Issue.record("expected a failure: \(outcome)")
            return
        }
        #expect(error.code == .recordTooLarge)
        #expect(error.message.contains("5242880 bytes") && error.message.contains("orders[1]@5"))
    }
}
