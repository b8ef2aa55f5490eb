import AffonsoSandbox
import Foundation
import KafkaClient
import Relay
import Testing

/// Records of the retry tiers are input like any other: their relay headers may be absurd, and the rules may
/// have changed since they were written. None of them may crash the relay, hold a partition or vanish.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayRetryRecordTests {
    static let invoice = Array(
        #"{"id": "in_retried", "type": "invoice.paid", "customer": "cus_test_0", "amount": 100, "currency": "usd"}"#
            .utf8)

    /// The relay headers of a record that failed once on `topic` under rule `invoice-paid`.
    static func headers(originalTopic: String, attempt: String = "1", notBefore: String? = nil) -> [KafkaHeader] {
        let now = Date()
        let envelope = RetryEnvelope(
            attempt: 1, rule: "invoice-paid",
            original: RecordCoordinates(topic: originalTopic, partition: 0, offset: 7),
            originalTimestamp: now, errorClass: .api5xx, errorMessage: "HTTP 503", errorStatus: 503,
            firstFailureAt: now, notBefore: now)
        return envelope.headers(keeping: []).map { header in
            switch header.key {
            case RetryEnvelope.HeaderName.attempt: KafkaHeader(key: header.key, value: Array(attempt.utf8))
            case RetryEnvelope.HeaderName.notBefore where notBefore != nil:
                KafkaHeader(key: header.key, value: Array(notBefore!.utf8))
            default: header
            }
        }
    }

    static func produce(_ relay: RelayHarness, headers: [KafkaHeader]) async throws {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: kafkaBrokers ?? []), logger: RelayHarness.logger
        )
        _ = try await producer.send(
            topic: relay.retryTopics[0], key: Array("cus_test_0".utf8), value: invoice, headers: headers)
        await producer.close()
    }

    @Test func aRetriedRecordWhoseRuleNoLongerReadsItsTopicIsDeadLetteredAsRuleRemoved() async throws {
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1)
        try await createKafkaTopic(relay.retryTopics[0], partitions: 1)
        try await Self.produce(relay, headers: Self.headers(originalTopic: "billing.legacy"))
        try relay.start()
        let letters = try await relay.deadLetters(count: 1, timeout: .seconds(60))
        try await relay.stop()
        let letter = try #require(letters.first, "the record vanished")
        #expect(letter.header("affonso-relay.error.class") == "rule_removed")
        #expect(
            letter.header("affonso-relay.error.message")?.contains("no longer reads topic 'billing.legacy'") == true)
        #expect(letter.header("affonso-relay.original.topic") == "billing.legacy")
        #expect(relay.sandbox.stats.requests == 0, "nothing sent for a rule that does not read the topic")
    }

    @Test func absurdRetryHeadersNeitherCrashNorHoldThePartition() async throws {
        let relay = try await RelayHarness(
            referrals: [referral(0)], partitions: 1, tiers: ["1s", "2s"], maxAttempts: 3)
        try await createKafkaTopic(relay.retryTopics[0], partitions: 1)
        // Attempt Int64.max: its next failure would be past max_attempts; here it is delivered (the API works).
        try await Self.produce(relay, headers: Self.headers(originalTopic: relay.source, attempt: String(Int64.max)))
        // not_before in year 9999 on the 1 s tier: due at most 1 s after it was written.
        try await Self.produce(
            relay, headers: Self.headers(originalTopic: relay.source, notBefore: "9999-12-31T23:59:59Z"))
        try relay.start()
        let delivered = await kafkaEventually(timeout: .seconds(30)) { relay.sandbox.stats.requests >= 2 }
        try await relay.stop()
        #expect(delivered, "\(relay.sandbox.stats.requests) of 2 retried records sent: a header held or broke them")
    }

    /// A record the relay accepted (under `max_record_bytes`) whose dead letter is too large for the producer
    /// (here its `message.max.bytes` is 200 KB): it is dead-lettered without its value, with its coordinates, and
    /// the partition moves on (it used to retry the write forever, holding its key and the commit).
    @Test func aDeadLetterTooLargeToWriteWholeGoesWithoutItsValueAndThePartitionMovesOn() async throws {
        let relay = try await RelayHarness(
            referrals: [referral(0)], partitions: 1,
            configure: { $0.producer.properties["message.max.bytes"] = "200000" })
        let padding = String(repeating: "x", count: 300_000)
        let poison = Array(
            """
            {"id": "in_big", "type": "invoice.paid", "customer": "cus_test_0", "amount": "lots", "currency": "usd", \
            "notes": "\(padding)"}
            """.utf8)
        try await relay.produceRaw([poison], key: "cus_test_0")
        try await relay.produceInvoices(["in_after_big"]) { _ in "cus_test_0" }
        try relay.start()
        let letters = try await relay.deadLetters(count: 1, timeout: .seconds(60))
        let delivered = await kafkaEventually(timeout: .seconds(30)) {
            relay.sandbox.ledger.contains { $0.externalEventID == "in_after_big" }
        }
        let drained = await kafkaEventually(timeout: .seconds(30)) {
            guard let offsets = try? await relay.committedAndEndOffsets(partitions: 1) else { return false }
            return offsets.allSatisfy { $0.committed == $0.end }
        }
        try await relay.stop()
        let letter = try #require(letters.first, "the record vanished")
        #expect(letter.value.count == 0, "the value was dropped")
        #expect(letter.header("affonso-relay.value_dropped") == String(poison.count))
        #expect(letter.header("affonso-relay.error.class") == "record_too_large")
        #expect(letter.header("affonso-relay.original.offset") == "0")
        #expect(letter.header("affonso-relay.error.message")?.contains("the original is at") == true)
        #expect(delivered, "the record behind it on the same key was delivered")
        #expect(drained, "committed to the end")
    }
}
