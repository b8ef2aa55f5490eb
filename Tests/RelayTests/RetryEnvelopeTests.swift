import CEL
import Foundation
import Testing

@testable import Relay

@Suite("RetryEnvelope")
struct RetryEnvelopeTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000.25)
    static let source = RecordCoordinates(topic: "billing.stripe", partition: 3, offset: 1234)
    static let sourceTime = Date(timeIntervalSince1970: 1_794_999_990)

    static func first(message: String = "HTTP 503 from /v1/events") -> RetryEnvelope {
        .failure(
            after: nil,
            record: source,
            timestamp: sourceTime,
            rule: "stripe-invoice-paid",
            errorClass: .api5xx,
            message: message,
            status: 503,
            attempt: 1,
            notBefore: now.addingTimeInterval(30),
            now: now
        )
    }

    static func value(_ headers: [RecordHeader], _ key: String) -> String? {
        headers.last { $0.key == key }?.stringValue
    }

    @Test("writes every SPEC header with the exact names and readable values, after the original headers")
    func headerSet() {
        let original = [RecordHeader(key: "ce_type", string: "invoice.paid"), RecordHeader(key: "trace", value: nil)]
        let headers = Self.first().headers(keeping: original)
        #expect(Array(headers.prefix(2)) == original)
        #expect(
            headers.dropFirst(2).map(\.key) == [
                "affonso-relay.attempt", "affonso-relay.rule", "affonso-relay.original.topic",
                "affonso-relay.original.partition", "affonso-relay.original.offset",
                "affonso-relay.original.timestamp", "affonso-relay.error.class", "affonso-relay.error.message",
                "affonso-relay.error.status", "affonso-relay.first_failure_at", "affonso-relay.not_before",
            ]
        )
        #expect(Self.value(headers, "affonso-relay.attempt") == "1")
        #expect(Self.value(headers, "affonso-relay.rule") == "stripe-invoice-paid")
        #expect(Self.value(headers, "affonso-relay.original.topic") == "billing.stripe")
        #expect(Self.value(headers, "affonso-relay.original.partition") == "3")
        #expect(Self.value(headers, "affonso-relay.original.offset") == "1234")
        #expect(Self.value(headers, "affonso-relay.original.timestamp") == "2026-11-18T11:06:30.000Z")
        #expect(Self.value(headers, "affonso-relay.error.class") == "api_5xx")
        #expect(Self.value(headers, "affonso-relay.error.message") == "HTTP 503 from /v1/events")
        #expect(Self.value(headers, "affonso-relay.error.status") == "503")
        #expect(Self.value(headers, "affonso-relay.first_failure_at") == "2026-11-18T11:06:40.250Z")
        #expect(Self.value(headers, "affonso-relay.not_before") == "2026-11-18T11:07:10.250Z")
    }

    @Test("round-trips through headers")
    func roundTrip() throws {
        let envelope = Self.first()
        let parsed = try #require(try RetryEnvelope.parse(envelope.headers(keeping: [])))
        #expect(parsed == envelope)
    }

    @Test("a re-retry replaces the relay headers, keeps the original coordinates and first failure time")
    func reRetry() throws {
        let first = Self.first()
        let original = [RecordHeader(key: "ce_id", string: "evt_1")]
        let retryRecordHeaders = first.headers(keeping: original)
        let previous = try #require(try RetryEnvelope.parse(retryRecordHeaders))
        let later = Self.now.addingTimeInterval(31)
        let second = RetryEnvelope.failure(
            after: previous,
            record: RecordCoordinates(topic: "affonso-relay.retry.30s", partition: 0, offset: 9),
            timestamp: later,
            rule: "stripe-invoice-paid",
            errorClass: .referralNotFound,
            message: "no referral matched customer_id cus_1",
            status: 404,
            attempt: 2,
            notBefore: later.addingTimeInterval(300),
            now: later
        )
        let headers = second.headers(keeping: retryRecordHeaders)
        #expect(headers.count == 1 + 11)
        #expect(headers.filter { $0.key == "affonso-relay.attempt" }.count == 1)
        #expect(headers.first == original.first)
        let parsed = try #require(try RetryEnvelope.parse(headers))
        #expect(parsed.attempt == 2)
        #expect(parsed.original == Self.source)
        #expect(parsed.originalTimestamp == Self.sourceTime)
        #expect(parsed.firstFailureAt == Self.now)
        #expect(parsed.errorClass == .referralNotFound)
        #expect(parsed.errorStatus == 404)
        #expect(RetryEnvelope.removingRelayHeaders(headers) == original)
    }

    @Test("absent status and timestamp are written empty and read back as absent")
    func emptyOptionalValues() throws {
        let envelope = RetryEnvelope(
            attempt: 1, rule: "r", original: Self.source, originalTimestamp: nil, errorClass: .mapping,
            errorMessage: "no such key: amount", errorStatus: nil, firstFailureAt: Self.now, notBefore: Self.now
        )
        let headers = envelope.headers(keeping: [])
        #expect(Self.value(headers, "affonso-relay.error.status") == "")
        #expect(Self.value(headers, "affonso-relay.original.timestamp") == "")
        let parsed = try #require(try RetryEnvelope.parse(headers))
        #expect(parsed.errorStatus == nil)
        #expect(parsed.originalTimestamp == nil)
    }

    @Test("API keys and bearer tokens never reach the headers")
    func scrubsSecrets() {
        let envelope = Self.first(
            message: "POST failed with Authorization: Bearer sk_live_abcDEF123456 (key sk_test_zzz999, api_key=s3cr3t)"
        )
        let text = envelope.headers(keeping: []).compactMap(\.stringValue).joined(separator: "\n")
        #expect(!text.contains("abcDEF123456"))
        #expect(!text.contains("zzz999"))
        #expect(!text.contains("s3cr3t"))
        #expect(envelope.errorMessage.contains("[redacted]"))
    }

    @Test("a configured key is scrubbed even when it does not look like one")
    func scrubsKnownSecret() {
        let envelope = RetryEnvelope(
            attempt: 1, rule: "r", original: Self.source, originalTimestamp: nil, errorClass: .clientError,
            errorMessage: "server echoed key hunter2-xyz", errorStatus: 418, firstFailureAt: Self.now,
            notBefore: Self.now, knownSecrets: ["hunter2-xyz"]
        )
        #expect(envelope.errorMessage == "server echoed key [redacted]")
    }

    @Test("long messages are cut at a character boundary and marked")
    func truncates() {
        let envelope = Self.first(message: String(repeating: "é", count: 2000))
        #expect(envelope.errorMessage.utf8.count <= RetryEnvelope.maximumMessageBytes)
        #expect(envelope.errorMessage.hasSuffix("…"))
        #expect(envelope.errorMessage.dropLast().allSatisfy { $0 == "é" })
    }

    @Test("a record without relay headers has no envelope")
    func noEnvelope() throws {
        #expect(try RetryEnvelope.parse([RecordHeader(key: "ce_type", string: "x")]) == nil)
    }

    @Test(
        "malformed headers are refused with a message naming the header",
        arguments: [
            ("affonso-relay.attempt", "three"),
            ("affonso-relay.attempt", "-1"),
            ("affonso-relay.original.partition", "p3"),
            ("affonso-relay.error.class", "teapot"),
            ("affonso-relay.error.status", "5xx"),
            ("affonso-relay.not_before", "tomorrow"),
            ("affonso-relay.first_failure_at", ""),
        ]
    )
    func malformed(header: String, value: String) {
        var headers = Self.first().headers(keeping: [])
        headers.append(RecordHeader(key: header, string: value))
        #expect {
            try RetryEnvelope.parse(headers)
        } throws: { error in
            guard let error = error as? RelayError else { return false }
            return error.code == .malformedRetryHeaders && error.message.contains(header)
        }
    }

    @Test("a missing required header is named")
    func missing() {
        let headers = Self.first().headers(keeping: []).filter { $0.key != "affonso-relay.rule" }
        #expect {
            try RetryEnvelope.parse(headers)
        } throws: { error in
            (error as? RelayError)?.message.contains("affonso-relay.rule is missing") == true
        }
    }

    @Test("remaining delay honours not_before")
    func remainingDelay() {
        let envelope = Self.first()
        #expect(envelope.remainingDelay(now: Self.now) == .seconds(30))
        #expect(envelope.remainingDelay(now: Self.now.addingTimeInterval(29.5)) == .milliseconds(500))
        #expect(envelope.remainingDelay(now: Self.now.addingTimeInterval(30)) == nil)
        #expect(envelope.remainingDelay(now: Self.now.addingTimeInterval(60)) == nil)
    }

    // MARK: - Untrusted header values

    /// The headers of ``first(message:)`` with one relay header replaced.
    static func headers(_ name: String, _ value: String) -> [RecordHeader] {
        Self.first().headers(keeping: []).map { $0.key == name ? RecordHeader(key: name, string: value) : $0 }
    }

    @Test("a not_before in year 9999 waits no longer than the tier's delay after the retry record was written")
    func notBeforeFarAwayIsBoundedByTheTier() throws {
        let envelope = try #require(
            try RetryEnvelope.parse(Self.headers("affonso-relay.not_before", "9999-12-31T23:59:59Z")))
        #expect(
            envelope.remainingDelay(now: Self.now, recordTimestamp: Self.now, tierDelay: .seconds(30)) == .seconds(30))
        #expect(
            envelope.remainingDelay(
                now: Self.now, recordTimestamp: Self.now.addingTimeInterval(-10), tierDelay: .seconds(30))
                == .seconds(20))
        // A record timestamp in the future counts as now; none at all too.
        for written in [Date(timeIntervalSince1970: 253_402_300_799), nil] {
            #expect(
                envelope.remainingDelay(now: Self.now, recordTimestamp: written, tierDelay: .seconds(30))
                    == .seconds(30))
        }
        // An ordinary not_before is kept: the cap only shortens.
        let ordinary = Self.first().remainingDelay(now: Self.now, recordTimestamp: Self.now, tierDelay: .seconds(3600))
        #expect(ordinary == .seconds(30))
    }

    @Test("absurd times in headers and Kafka timestamps are clamped, never trap")
    func absurdTimes() throws {
        for value in [String(Int64.max), String(Int64.min), "-9223372036854775807"] {
            let envelope = try #require(try RetryEnvelope.parse(Self.headers("affonso-relay.not_before", value)))
            _ = envelope.remainingDelay(now: Self.now, recordTimestamp: nil, tierDelay: .seconds(1))
            _ = envelope.remainingDelay(now: Self.now)
            let written = envelope.headers(keeping: [])
            #expect(try RetryEnvelope.parse(written) != nil, "what the relay writes it can read back")
        }
        for milliseconds in [Int64.max, Int64.min, Int64.max - 1] {
            let date = WallClock.date(milliseconds: milliseconds)
            #expect(WallClock.parse(WallClock.format(date)) != nil)
            let timestamp = CELTimestamp(milliseconds: milliseconds)
            #expect(timestamp.seconds >= -62_135_596_800 && timestamp.seconds <= 253_402_300_799)
            _ = CELTimestamp(date: Date(timeIntervalSince1970: 1e300))
        }
    }

    @Test("an attempt of Int.max saturates: the next round is a dead letter, not a trap")
    func attemptSaturates() throws {
        let envelope = try #require(try RetryEnvelope.parse(Self.headers("affonso-relay.attempt", String(Int.max))))
        #expect(envelope.attempt == .max)
        #expect(RetryPolicy.nextAttempt(after: .max) == .max)
        let policy = RetryPolicy(
            configuration: RetryConfiguration(
                tiers: [.init(topic: "t.retry", delay: .seconds(1))], maximumAttempts: 3, inProcessAttempts: 1,
                deadLetterTopic: "t.dlq"))
        let decision = policy.decide(
            .failed(.api5xx), previousAttempts: envelope.attempt, inProcessAttempt: 1, now: Self.now)
        #expect(decision == .deadLetter(topic: "t.dlq", attempt: .max))
    }
}
