import CEL
import Rules
import Testing

@Suite("CloudEvents")
struct CloudEventsTests {
    static let ruleSet: RuleSet = try! makeRuleSet([
        rule(
            "ce",
            match: "has(ce.type) && ce.type == 'com.example.kyc.passed'",
            event: [
                ("event_name", "ce.type"), ("external_user_id", "ce.subject"), ("occurred_at", "ce.time"),
                ("external_event_id", "ce.source + '#' + ce.id"),
                ("metadata", "{'level': payload.level, 'content_type': ce.?datacontenttype.orValue('none')}"),
            ]
        )
    ])

    @Test("binary mode: ce_* headers are attributes, the value is the payload, time is a timestamp")
    func binaryMode() throws {
        let source = record(
            #"{"level":"full"}"#,
            headers: [
                ("ce_specversion", "1.0"), ("ce_id", "42"), ("ce_source", "/kyc"),
                ("ce_type", "com.example.kyc.passed"),
                ("ce_subject", "usr_1"), ("ce_time", "2026-11-25T15:00:00+01:00"), ("content-type", "application/json"),
            ]
        )
        let event = try #require(Self.ruleSet.apply(source).results.first?.event)
        #expect(event.fields["external_user_id"] == .string("usr_1"))
        #expect(event.fields["occurred_at"] == .string("2026-11-25T14:00:00Z"))
        #expect(event.externalEventID == "/kyc#42")
        #expect(
            event.fields["metadata"]
                == .map(CELMap([("content_type", .string("application/json")), ("level", .string("full"))])))
    }

    @Test("structured mode: the envelope's attributes are ce, its data is the payload")
    func structuredMode() throws {
        let envelope = #"""
            {"specversion":"1.0","id":"7","source":"/kyc","type":"com.example.kyc.passed","subject":"usr_2",
             "time":"2026-11-25T15:00:00Z","datacontenttype":"application/json","data":{"level":"basic"}}
            """#
        let source = record(envelope, headers: [("Content-Type", "application/cloudevents+json; charset=UTF-8")])
        let event = try #require(Self.ruleSet.apply(source).results.first?.event)
        #expect(event.fields["external_user_id"] == .string("usr_2"))
        #expect(event.externalEventID == "/kyc#7")
        #expect(
            event.fields["metadata"]
                == .map(CELMap([("content_type", .string("application/json")), ("level", .string("basic"))])))
    }

    @Test("without CloudEvents headers ce is an empty map")
    func plainRecord() {
        #expect(Self.ruleSet.apply(record(#"{"level":"full"}"#)).isSkipped)
    }

    static let broken: [(String, String, [(String, String)], String)] = [
        (
            "bad ce_time", "{}", [("ce_type", "x"), ("ce_time", "yesterday")],
            "'time' is not an RFC 3339 time: 'yesterday'"
        ),
        (
            "structured but not an object", "[1]", [("content-type", "application/cloudevents+json")],
            "is not a JSON object"
        ),
        (
            "structured without specversion", #"{"id":"1","data":{}}"#,
            [("content-type", "application/cloudevents+json")], "no 'specversion'"
        ),
        ("batch mode", "[]", [("content-type", "application/cloudevents-batch+json")], "batch mode"),
        (
            "bad data_base64", #"{"specversion":"1.0","data_base64":"%%%"}"#,
            [("content-type", "application/cloudevents+json")], "not base64"
        ),
    ]

    @Test("malformed CloudEvents are decode errors", arguments: broken)
    func malformed(_ testCase: (String, String, [(String, String)], String)) throws {
        let error = try #require(Self.ruleSet.apply(record(testCase.1, headers: testCase.2)).recordError)
        #expect(error.errorClass == "decode")
        #expect(error.message.contains(testCase.3))
    }

    @Test("binary mode with a non-JSON content type gives the payload as a string")
    func textPayload() throws {
        let ruleSet = try makeRuleSet([rule("r", event: [("event_name", "payload"), ("customer_id", "'c'")])])
        let source = record("plain text", headers: [("ce_type", "x"), ("content-type", "text/plain")])
        #expect(ruleSet.apply(source).results.first?.event?.eventName == "plain text")
    }
}
