import CEL
import Rules
import Testing

@Suite("rules apply lines")
struct ApplyLineTests {
    static let ruleSet: RuleSet = try! makeRuleSet([
        rule("r", match: "payload.ok", event: [("event_name", "'e'"), ("customer_id", "record.key")]),
        rule("s", match: "payload.ok", event: [("event_name", "'f'"), ("customer_id", "payload.missing")]),
    ])

    func apply(_ line: String, number: Int = 1) -> String {
        let outcome: RecordOutcome
        switch ApplyLine.record(from: Array(line.utf8), topic: "t", lineNumber: number) {
        case .success(let record): outcome = Self.ruleSet.apply(record)
        case .failure(let error): outcome = .failed(error)
        }
        return String(decoding: ApplyLine.line(for: outcome), as: UTF8.self)
    }

    @Test("events and per-rule errors, in rule order")
    func results() {
        let line = apply(#"{"key":"cus_1","value":{"ok":true},"partition":1,"offset":9}"#)
        #expect(
            line.hasPrefix(
                #"{"results":[{"rule":"r","event":{"customer_id":"cus_1","event_name":"e","external_event_id":"r:t:1:9"}},"#
                    + #"{"rule":"s","error":{"class":"mapping","message":"rule 's' field 'customer_id': no such key: 'missing'"#
            )
        )
        #expect(line.hasSuffix(#""}}]}"#))
    }

    @Test("skipped records and value_base64")
    func skipped() {
        #expect(apply(#"{"value":{"ok":false}}"#) == #"{"skipped":true}"#)
        #expect(apply(#"{"value_base64":"eyJvayI6ZmFsc2V9"}"#) == #"{"skipped":true}"#)
    }

    @Test("the default offset is the line number - 1")
    func defaultOffset() {
        #expect(apply(#"{"key":"k","value":{"ok":true}}"#, number: 5).contains(#""external_event_id":"r:t:0:4""#))
    }

    static let bad: [(String, String)] = [
        (
            #"{"value_base64":"bm90IGpzb24="}"#,
            #"{"error":{"class":"decode","message":"record value is not valid JSON: invalid literal (expected true, false or null) at byte 0"}}"#
        ),
        (
            "not json",
            #"{"error":{"class":"decode","message":"input line 1: not a valid input object: expected a JSON object at byte 0"}}"#
        ),
        (
            #"{"key":"k"}"#,
            #"{"error":{"class":"decode","message":"input line 1: the line has neither 'value' nor 'value_base64'"}}"#
        ),
        (
            #"{"valu":{}}"#,
            #"{"error":{"class":"decode","message":"input line 1: unknown member 'valu'; did you mean 'value'?"}}"#
        ),
        (
            #"{"value":{},"headers":{"a":1}}"#,
            #"{"error":{"class":"decode","message":"input line 1: 'headers' must be an object of strings"}}"#
        ),
        (
            #"{"value":{},"timestamp":"now"}"#,
            #"{"error":{"class":"decode","message":"input line 1: 'timestamp' is not an RFC 3339 time: 'now'"}}"#
        ),
        (
            #"{"value":{},"timestamp":253402300800000}"#,
            #"{"error":{"class":"decode","message":"input line 1: 'timestamp' must be an RFC 3339 string such as \"2026-01-01T00:00:00Z\", got 253402300800000"}}"#
        ),
        (
            #"{"value":{},"partition":2147483648}"#,
            #"{"error":{"class":"decode","message":"input line 1: 'partition' must be a whole number from 0 to 2147483647, got 2147483648"}}"#
        ),
        (
            #"{"value":{},"offset":-1}"#,
            #"{"error":{"class":"decode","message":"input line 1: 'offset' must be a whole number, 0 or more, got -1"}}"#
        ),
        (
            #"{"value":{},"key":7.5}"#,
            #"{"error":{"class":"decode","message":"input line 1: 'key' must be a string or null, got double"}}"#
        ),
    ]

    @Test("bad lines are decode errors in the output, never a stop", arguments: bad)
    func badLines(_ testCase: (String, String)) {
        #expect(apply(testCase.0) == testCase.1)
    }
}
