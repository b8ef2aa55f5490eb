import CEL
import Rules
import Testing

@Suite("Rule evaluation")
struct RuleEvaluationTests {
    static let invoice = #"{"id":"evt_1","type":"invoice.paid","created":1732546800,"customer":"cus_1","amount":9900}"#

    @Test("every matching rule emits one event, in rule order (fan-out)")
    func fanOut() throws {
        let ruleSet = try makeRuleSet([
            rule("first", event: [("event_name", "'a'"), ("customer_id", "payload.customer")]),
            rule("not-this-topic", topics: ["other"], event: [("event_name", "'x'"), ("customer_id", "'c'")]),
            rule("no-match", match: "payload.type == 'nope'", event: [("event_name", "'x'"), ("customer_id", "'c'")]),
            rule("second", topics: ["/^t$/"], event: [("event_name", "'b'"), ("customer_id", "payload.customer")]),
            rule("third", match: "payload.amount > 0", event: [("event_name", "'c'"), ("click_id", "'clk'")]),
        ])
        let results = ruleSet.apply(record(Self.invoice)).results
        #expect(results.map(\.rule) == ["first", "second", "third"])
        #expect(results.compactMap(\.event?.eventName) == ["a", "b", "c"])
    }

    @Test("a record no rule matches is skipped; so is a topic without rules")
    func skipped() throws {
        let ruleSet = try makeRuleSet([
            rule("r", match: "payload.type == 'other'", event: [("event_name", "'a'"), ("customer_id", "'c'")])
        ])
        #expect(ruleSet.apply(record(Self.invoice)).isSkipped)
        #expect(ruleSet.apply(record("not json", topic: "unrelated")).isSkipped)
    }

    @Test("variables are evaluated in order and visible as variables.NAME")
    func variables() throws {
        let ruleSet = try makeRuleSet([
            rule(
                "r",
                variables: [("cents", "payload.amount"), ("major", "double(variables.cents) / 100.0")],
                event: [
                    ("event_name", "'paid'"), ("event_type", "'conversion'"), ("customer_id", "payload.customer"),
                    ("sale_amount", "variables.major"), ("sale_amount_currency", "'USD'"),
                    ("external_event_id", "payload.id"),
                ]
            )
        ])
        let event = try #require(ruleSet.apply(record(Self.invoice)).results.first?.event)
        #expect(event.fields["sale_amount"] == .double(99))
        #expect(event.eventType == "conversion")
        #expect(event.externalEventID == "evt_1")
    }

    @Test(
        "the body is canonical JSON: sorted keys, RFC 3339 times, null and empty optionals omitted, affonso_id sent as referral_id"
    )
    func body() throws {
        let ruleSet = try makeRuleSet([
            rule(
                "r",
                event: [
                    ("event_name", "'signup'"), ("affonso_id", "'ref_1'"),
                    ("occurred_at", "timestamp(payload.created)"),
                    ("click_id", "payload.?click"), ("customer_id", "null"),
                    ("metadata", "{'z': 1, 'a': [true, 2.5], 'when': timestamp(0)}"),
                ]
            )
        ])
        let event = try #require(ruleSet.apply(record(Self.invoice)).results.first?.event)
        #expect(
            event.bodyString
                == #"{"event_name":"signup","external_event_id":"r:t:2:17","metadata":{"a":[true,2.5],"#
                + #""when":"1970-01-01T00:00:00Z","z":1},"occurred_at":"2024-11-25T15:00:00Z","referral_id":"ref_1"}"#
        )
        #expect(event.eventType == "milestone")
        #expect(event.externalEventID == "r:t:2:17")
    }

    @Test("the default external_event_id is RULE:TOPIC:PARTITION:OFFSET and stable")
    func defaultExternalEventID() throws {
        let ruleSet = try makeRuleSet([rule("lead-rule", event: [("event_name", "'x'"), ("customer_id", "'c'")])])
        let first = ruleSet.apply(record(Self.invoice)).results.first?.event?.externalEventID
        let again = ruleSet.apply(record(Self.invoice)).results.first?.event?.externalEventID
        #expect(first == "lead-rule:t:2:17")
        #expect(first == again)
    }

    static let expressionErrors: [(String, String, String)] = [
        ("missing key", "payload.nope", "no such key"),
        ("no overload", "payload.customer + 1", "no such overload"),
        ("division by zero", "string(1 / (payload.amount - 9900))", "divide by zero"),
        ("bad conversion", "string(int(payload.customer))", "cannot convert string 'cus_1' to int"),
        ("overflow", "string(payload.amount * 9223372036854775807)", "overflow"),
        (
            "cost limit",
            "string([1,2,3,4,5,6,7,8,9,10].map(a, [1,2,3,4,5,6,7,8,9,10].map(b, [1,2,3,4,5,6,7,8,9,10].map(c, [1,2,3,4,5,6,7,8,9,10].map(d, [1,2,3,4,5,6,7,8,9,10].map(e, a+b+c+d+e))))))",
            "cost"
        ),
    ]

    @Test("an expression error is a mapping result naming rule and field, never a crash", arguments: expressionErrors)
    func expressionErrorsAreMapping(_ testCase: (String, String, String)) throws {
        var options = RuleSet.Options()
        options.limits.maximumCost = 10_000
        let ruleSet = try makeRuleSet(
            [
                rule("bad", event: [("event_name", "'x'"), ("customer_id", testCase.1)]),
                rule("good", event: [("event_name", "'y'"), ("customer_id", "'c'")]),
            ],
            options: options
        )
        let results = ruleSet.apply(record(Self.invoice)).results
        #expect(results.count == 2)
        let error = try #require(results.first?.error)
        #expect(error.errorClass == "mapping")
        #expect(error.message.hasPrefix("rule 'bad' field 'customer_id': "))
        #expect(error.message.contains(testCase.2))
        #expect(results.last?.event != nil, "one rule's error must not stop the other rules")
    }

    @Test("match errors and non-bool match are mapping errors on that rule")
    func matchErrors() throws {
        let ruleSet = try makeRuleSet([
            rule("m1", match: "payload.missing == 1", event: [("event_name", "'x'"), ("customer_id", "'c'")]),
            rule("m2", match: "payload.amount", event: [("event_name", "'x'"), ("customer_id", "'c'")]),
            rule(
                "v", variables: [("boom", "payload.missing")], event: [("event_name", "'x'"), ("customer_id", "'c'")]),
        ])
        let errors = ruleSet.apply(record(Self.invoice)).results.compactMap(\.error)
        #expect(errors.map(\.field) == ["match", "match", "variables.boom"])
        #expect(errors[1].message == "rule 'm2' field 'match': must be a bool, got 9900 (int)")
        #expect(errors.allSatisfy { $0.errorClass == "mapping" })
    }

    @Test("invalid JSON is a decode outcome for the record")
    func decodeError() throws {
        let ruleSet = try makeRuleSet([rule("r", event: [("event_name", "'x'"), ("customer_id", "'c'")])])
        let error = try #require(ruleSet.apply(record("{\"a\": tru}")).recordError)
        #expect(error.errorClass == "decode")
        #expect(error.message.contains("record value is not valid JSON"))
        let empty = try #require(ruleSet.apply(record("")).recordError)
        #expect(empty.message.contains("empty"))
    }

    @Test("records over max_record_bytes are record_too_large, before any decoding")
    func recordTooLarge() throws {
        var options = RuleSet.Options()
        options.maximumRecordBytes = 64
        let ruleSet = try makeRuleSet(
            [rule("r", event: [("event_name", "'x'"), ("customer_id", "'c'")])], options: options)
        let big = "{\"pad\":\"" + String(repeating: "x", count: 100) + "\"}"
        let error = try #require(ruleSet.apply(record(big)).recordError)
        #expect(error.errorClass == "record_too_large")
        #expect(error.message.contains("over max_record_bytes (64)"))
        #expect(ruleSet.apply(record("{}")).results.count == 1)
        // Headers count: thousands of small headers make a record as costly as a large value.
        let headers = (0..<20).map { ("h\($0)", "value") }
        let crowded = try #require(ruleSet.apply(record("{}", headers: headers)).recordError)
        #expect(crowded.errorClass == "record_too_large")
    }

    @Test("record exposes topic, partition, offset, key, timestamp and headers")
    func recordVariable() throws {
        let ruleSet = try makeRuleSet([
            rule(
                "r",
                event: [
                    ("event_name", "record.topic + '/' + string(record.partition) + '/' + string(record.offset)"),
                    ("customer_id", "record.key"), ("click_id", "record.headers['x-click']"),
                    ("occurred_at", "record.timestamp"),
                ]
            )
        ])
        var source = record("{}", headers: [("x-click", "clk_9")], key: "cus_k")
        source.timestamp = CELTimestamp(seconds: 86_400)
        let event = try #require(ruleSet.apply(source).results.first?.event)
        #expect(event.eventName == "t/2/17")
        #expect(event.fields["customer_id"] == .string("cus_k"))
        #expect(event.fields["click_id"] == .string("clk_9"))
        #expect(event.fields["occurred_at"] == .string("1970-01-02T00:00:00Z"))
        // A record without key: record.key is null, so the field is omitted and another identifier is needed.
        let keyless = ruleSet.apply(record("{}", headers: [("x-click", "clk_9")])).results.first?.event
        #expect(keyless?.fields["customer_id"] == nil)
    }

    @Test("a retried record re-runs only the named rule")
    func onlyRule() throws {
        let ruleSet = try makeRuleSet([
            rule("a", event: [("event_name", "'a'"), ("customer_id", "'c'")]),
            rule("b", event: [("event_name", "'b'"), ("customer_id", "'c'")]),
        ])
        #expect(ruleSet.apply(record("{}"), onlyRule: "b").results.map(\.rule) == ["b"])
        #expect(ruleSet.apply(record("{}"), onlyRule: "gone").isSkipped)
    }
}
