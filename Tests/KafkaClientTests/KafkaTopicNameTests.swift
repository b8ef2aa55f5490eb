import Testing

@testable import KafkaClient

/// Topic names the relay would write to (retry tiers, the dead-letter topic, its `.replayed` topic, the
/// conversions topic) or read from: a name a broker refuses is caught before the relay starts.
@Suite("Kafka topic names")
struct KafkaTopicNameTests {
    @Test(
        "names a broker accepts",
        arguments: [
            "orders", "billing.stripe", "affonso-relay.retry.30s", "A_b-C.9", String(repeating: "x", count: 249),
        ]
    )
    func accepted(name: String) {
        #expect(KafkaTopicName.problem(name) == nil)
    }

    @Test(
        "names a broker refuses, with the reason",
        arguments: [
            ("", "it is empty"),
            (".", "'.' and '..' are not topic names"),
            ("..", "'.' and '..' are not topic names"),
            ("bad topic", "it contains ' '"),
            ("orders/eu", "it contains '/'"),
            ("zahlungsbestätigung", "it contains '\\u{00E4}'"),
            ("tab\there", "it contains '\\t'"),
            (String(repeating: "x", count: 250), "it is 250 characters long; Kafka allows at most 249"),
        ]
    )
    func refused(name: String, reason: String) {
        #expect(KafkaTopicName.problem(name)?.hasPrefix(reason) == true, "\(KafkaTopicName.problem(name) ?? "nil")")
    }

    @Test("a 200,000-character name is refused at once")
    func huge() {
        #expect(KafkaTopicName.problem(String(repeating: "y", count: 200_000))?.contains("200000 characters") == true)
    }
}
