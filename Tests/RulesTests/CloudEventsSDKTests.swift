import CEL
import Foundation
import Rules
import Testing

/// Records made by the CloudEvents Python SDK's Kafka binding (fixtures written by scripts/cloudevents-fixtures):
/// every mode maps to the same `ce` and `payload`.
@Suite("CloudEvents from the Python SDK")
struct CloudEventsSDKTests {
    static let ruleSet: RuleSet = try! makeRuleSet([
        rule(
            "kyc",
            topics: ["kyc"],
            match: "ce.type == 'com.example.kyc.passed'",
            event: [
                ("event_name", "'kyc_passed'"), ("external_user_id", "ce.subject"), ("occurred_at", "ce.time"),
                ("external_event_id", "ce.source + '#' + ce.id"),
                (
                    "metadata",
                    "{'specversion': ce.specversion, 'content_type': ce.?datacontenttype.orValue('none'), "
                        + "'has_data': has(ce.data), 'level': payload.level, 'plan': payload.user.plan, "
                        + "'key': record.key}"
                ),
            ]
        )
    ])

    static func fixture(_ name: String) throws -> SourceRecord {
        let path = repositoryRoot + "/Tests/Fixtures/cloudevents/\(name).json"
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return try ApplyLine.record(from: bytes, topic: "kyc", lineNumber: 1).get()
    }

    @Test(
        "ce and payload map the same in every mode the SDK writes",
        arguments: [
            ("v1-structured", "application/json"),  // content-type is the data's type, not cloudevents+json
            ("v1-structured-no-content-type", "none"),
            ("v1-binary", "application/json"),
            ("core-structured", "application/json"),
            ("core-binary", "application/json"),
        ])
    func sdkRecords(fixture: String, contentType: String) throws {
        let outcome = Self.ruleSet.apply(try Self.fixture(fixture))
        let event = try #require(outcome.results.first?.event, "\(fixture): \(outcome)")
        #expect(event.fields["external_user_id"] == .string("usr_42"))
        #expect(event.fields["occurred_at"] == .string("2026-11-25T14:00:00Z"))
        #expect(event.externalEventID == "/services/kyc#kyc-7f3a")
        guard case .map(let metadata)? = event.fields["metadata"] else {
            Issue.record("\(fixture): no metadata in \(event.bodyString)")
            return
        }
        #expect(metadata["specversion"] == .string("1.0"))
        #expect(metadata["content_type"] == .string(contentType))
        #expect(metadata["has_data"] == .bool(false))
        #expect(metadata["level"] == .string("full"))
        #expect(metadata["plan"] == .string("pro"))
        #expect(metadata["key"] == .string("usr_42"))
    }

    @Test("a JSON value that lacks one of specversion, id, source, type stays a plain payload")
    func notAnEnvelope() throws {
        let ruleSet = try makeRuleSet([
            rule(
                "plain",
                event: [("event_name", "'x'"), ("customer_id", "payload.id"), ("metadata", "{'attributes': size(ce)}")])
        ])
        let source = record(
            #"{"specversion":"1.0","id":"c1","type":"t"}"#, headers: [("content-type", "application/json")])
        let event = try #require(ruleSet.apply(source).results.first?.event)
        #expect(event.fields["customer_id"] == .string("c1"))
        #expect(event.fields["metadata"] == .map(CELMap([("attributes", .int(0))])))
    }
}
