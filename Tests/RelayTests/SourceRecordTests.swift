import CEL
import Foundation
import KafkaClient
import Rules
import Testing

@testable import Relay

/// What a rule sees of a record the relay read: the pipeline, `rules tap` and the replay's re-mapping build it the
/// same way.
@Suite("Records as the rules see them")
struct SourceRecordTests {
    static let message = KafkaConsumerMessage(
        topic: "orders.retry.1m", partition: 3, offset: 77, key: Array("cus_1".utf8), value: Array("{}".utf8),
        headers: [
            KafkaHeader(key: "trace", string: "t-1"),
            KafkaHeader(key: RetryEnvelope.HeaderName.originalTimestamp, string: "2026-01-01T00:00:00Z"),
            KafkaHeader(key: "empty", value: nil),
        ],
        timestampMilliseconds: 1_800_000_000_000)

    @Test("a retried or dead-lettered record: its original coordinates and timestamp, without the relay's headers")
    func retried() {
        let original = RecordCoordinates(topic: "orders", partition: 1, offset: 5)
        let first = Date(timeIntervalSince1970: 1_700_000_000)
        let record = SourceRecord(Self.message, at: original, originalTimestamp: first)
        #expect(record.topic == "orders" && record.partition == 1 && record.offset == 5)
        #expect(record.key == Array("cus_1".utf8) && record.value == Array("{}".utf8))
        #expect(record.headers == [SourceRecord.Header("trace", "t-1")])
        #expect(record.timestamp == CELTimestamp(date: first))
    }

    @Test("a record read from its own topic: its own coordinates and timestamp")
    func own() {
        let record = DeadLetterReader.sourceRecord(Self.message)
        #expect(record.topic == "orders.retry.1m" && record.partition == 3 && record.offset == 77)
        #expect(record.timestamp == CELTimestamp(milliseconds: 1_800_000_000_000))
        #expect(record.headers == [SourceRecord.Header("trace", "t-1")])
    }
}
