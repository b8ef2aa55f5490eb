import CEL
import Foundation
import RelayConfig
import Rules
import Testing

/// Refund rules (`refund:` instead of `event:`, docs/rules.md "Refund rules"): what they map a record to, what the
/// relay refuses before sending, and what `rules check` says about them.
@Suite("refund rules")
struct RefundRuleTests {
    static func refundRule(_ refund: [(String, String)], name: String = "r", match: String? = nil) -> RuleDefinition {
        RuleDefinition(
            name: name, topics: ["t"], match: match, event: [], refund: refund.map { (field: $0.0, expression: $0.1) })
    }

    static func load(_ text: String) throws(ConfigError) -> RelayConfigLoader.Loaded {
        try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:], purpose: .rules)
    }

    /// The `file:line:col: message` lines a configuration fails with (empty when it loads).
    static func errors(_ text: String) -> [String] {
        do {
            _ = try load(text)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    // MARK: - Mapping

    @Test("a partial refund: the body of POST /v1/conversions/{id}/refund, and the conversion beside it")
    func partialRefund() throws {
        let ruleSet = try makeRuleSet([
            Self.refundRule([
                ("conversion", "payload.pi"), ("amount", "double(payload.cents) / 100.0"),
                ("currency", "payload.currency.upperAscii()"), ("reason", "'requested_by_customer'"),
                ("external_event_id", "payload.id"), ("refunded_at", "timestamp(payload.at)"),
            ])
        ])
        let outcome = ruleSet.apply(
            record(#"{"id": "evt_r1", "pi": "pi_1", "cents": 2050, "currency": "usd", "at": 1733151600}"#))
        let refund = try #require(outcome.results.first?.event)
        #expect(refund.isRefund)
        #expect(refund.refund == MappedEvent.Refund(conversionExternalEventID: "pi_1"))
        #expect(refund.eventType == "refund")
        #expect(refund.externalEventID == "evt_r1")
        #expect(
            refund.bodyString
                == #"{"amount":20.5,"currency":"USD","external_event_id":"evt_r1","reason":"requested_by_customer","#
                + #""refunded_at":"2024-12-02T15:00:00Z"}"#)
        #expect(
            String(decoding: ApplyLine.line(for: outcome), as: UTF8.self)
                == #"{"results":[{"rule":"r","refund":{"amount":20.5,"conversion":"pi_1","currency":"USD","#
                + #""external_event_id":"evt_r1","reason":"requested_by_customer","refunded_at":"2024-12-02T15:00:00Z"}}]}"#
        )
    }

    @Test("a full refund sends no amount; external_event_id and refunded_at default to the record's position and time")
    func fullRefundDefaults() throws {
        let ruleSet = try makeRuleSet([Self.refundRule([("conversion", "payload.pi")])])
        var source = record(#"{"pi": "pi_2"}"#)
        source.timestamp = CELTimestamp(seconds: 1_733_756_400)
        let refund = try #require(ruleSet.apply(source).results.first?.event)
        #expect(refund.externalEventID == "r:t:2:17")
        #expect(refund.bodyString == #"{"external_event_id":"r:t:2:17","refunded_at":"2024-12-09T15:00:00Z"}"#)
        // Without a record time there is nothing to default to: Affonso's own time applies.
        let untimed = try #require(ruleSet.apply(record(#"{"pi": "pi_2"}"#)).results.first?.event)
        #expect(untimed.bodyString == #"{"external_event_id":"r:t:2:17"}"#)
    }

    @Test(
        "refund fields are validated before sending, naming rule and field",
        arguments: [
            ("0.0", "'USD'", "payload.pi", "field 'refund.amount': must be a positive finite amount in major units"),
            ("-5.0", "'USD'", "payload.pi", "field 'refund.amount': must be a positive finite amount"),
            ("'12.50'", "'USD'", "payload.pi", "field 'refund.amount': must be a number, got \"12.50\" (string)"),
            ("1.0/0.0", "'USD'", "payload.pi", "field 'refund.amount': must be a positive finite amount"),
            ("5.0", "'usd'", "payload.pi", "(codes are upper case: use .upperAscii())"),
            ("5.0", "'ZZZ'", "payload.pi", "field 'refund.currency': must be a three-letter ISO 4217 currency code"),
            ("5.0", "null", "payload.pi", "field 'refund.currency': is required with amount"),
            ("5.0", "'USD'", "null", "field 'refund.conversion': is required: the external_event_id of the conversion"),
            ("5.0", "'USD'", "''", "field 'refund.conversion': must not be empty"),
            ("5.0", "'USD'", "1", "field 'refund.conversion': must be a string, got 1 (int); use string(…) to convert"),
        ])
    func validation(amount: String, currency: String, conversion: String, message: String) throws {
        let ruleSet = try makeRuleSet([
            Self.refundRule([
                ("conversion", conversion), ("amount", amount), ("currency", currency), ("external_event_id", "'x'"),
            ])
        ])
        let error = try #require(ruleSet.apply(record(#"{"pi": "pi_1"}"#)).results.first?.error)
        #expect(error.errorClass == "validation")
        #expect(error.rule == "r")
        #expect(error.message.hasPrefix("rule 'r' field 'refund."))
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test("an expression error in a refund field is a mapping error naming the field")
    func mappingError() throws {
        let ruleSet = try makeRuleSet([Self.refundRule([("conversion", "payload.charge.payment_intent")])])
        let error = try #require(ruleSet.apply(record(#"{"charge": {}}"#)).results.first?.error)
        #expect(error.errorClass == "mapping")
        #expect(error.field == "refund.conversion")
        #expect(error.message.hasPrefix("rule 'r' field 'refund.conversion': "))
    }

    @Test("refunded_at must be a time")
    func refundedAt() throws {
        let ruleSet = try makeRuleSet([
            Self.refundRule([("conversion", "'pi_1'"), ("external_event_id", "'x'"), ("refunded_at", "'yesterday'")])
        ])
        let error = try #require(ruleSet.apply(record("{}")).results.first?.error)
        #expect(
            error.message
                == "rule 'r' field 'refund.refunded_at': must be a timestamp or an RFC 3339 string, got \"yesterday\" "
                + "(string); use timestamp(…) to convert")
    }

    @Test("an event rule and a refund rule fan out from one record, each as its own kind")
    func fanOut() throws {
        let ruleSet = try makeRuleSet([
            rule("e", event: [("event_name", "'seen'"), ("customer_id", "payload.c")]),
            Self.refundRule([("conversion", "payload.pi"), ("external_event_id", "'x'")], name: "f"),
        ])
        let results = ruleSet.apply(record(#"{"c": "cus_1", "pi": "pi_1"}"#)).results
        #expect(results.map(\.rule) == ["e", "f"])
        #expect(results.map { $0.event?.isRefund } == [false, true])
        #expect(ruleSet.refundRuleNames == ["f"])
    }

    // MARK: - Configuration

    @Test("a refund rule with a group_id that makes no topic name: the conversions topic is named in the error")
    func conversionsTopicName() throws {
        let text = """
            kafka: {group_id: "payments/relay"}
            affonso: {api_key: k}
            rules:
              - name: r
                topics: [t]
                refund: {conversion: "payload.pi", external_event_id: "payload.id"}
            """
        let loaded = try Self.load(text)
        #expect {
            _ = try loaded.configuration.serviceConfiguration(file: "relay.yaml")
        } throws: { error in
            (error as? ConfigError)?.errors.first?.message.contains(
                "'payments/relay.conversions' (kafka.group_id + '.conversions'), which is not a Kafka topic name: it "
                    + "contains '/'") == true
        }
    }

    @Test("refund rules in relay.yaml: errors at file:line:col")
    func configErrors() {
        let both = """
            rules:
              - name: r
                topics: [t]
                event: {event_name: "'a'", customer_id: "payload.c"}
                refund: {conversion: "payload.pi"}
            """
        #expect(
            Self.errors(both) == [
                "relay.yaml:5:5: rule 'r' has both event and refund; a rule emits events or refunds, not both: split "
                    + "it into two rules"
            ])
        let unknown = """
            rules:
              - name: r
                topics: [t]
                refund:
                  conversion: "payload.pi"
                  ammount: "1.0"
                  currency: "'USD'"
                  external_event_id: "payload.id"
            """
        #expect(
            Self.errors(unknown) == [
                "relay.yaml:6:7: 'ammount' is not a field of refunds (conversion, amount, currency, reason, "
                    + "external_event_id, refunded_at); did you mean 'amount'?"
            ])
        let incomplete = """
            rules:
              - name: r
                topics: [t]
                refund:
                  amount: "payload.total"
                  external_event_id: "payload.id"
            """
        #expect(
            Self.errors(incomplete) == [
                "relay.yaml:5:7: rule 'r' refund has no conversion; it is required: the external_event_id of the "
                    + "conversion to reverse (e.g. payload.data.object.payment_intent)",
                "relay.yaml:5:7: rule 'r' refund has amount but no currency; a partial refund needs both (omit "
                    + "amount for a full refund)",
            ])
        let quoted = """
            rules:
              - name: r
                topics: [t]
                refund: {conversion: payment_intent, external_event_id: "payload.id"}
            """
        #expect(
            Self.errors(quoted) == [
                "relay.yaml:4:26: refund.conversion: undeclared reference 'payment_intent'; did you mean the string "
                    + "'payment_intent'?"
            ])
    }

    @Test("a rule with neither event nor refund says how to write either")
    func neither() {
        let errors = Self.errors("rules:\n  - name: r\n    topics: [t]\n")
        #expect(
            errors.first
                == "relay.yaml:2:5: rule 'r' has no event; map at least event_name and an identifier (or, for a rule "
                + "that reverses a conversion, a refund with its conversion)")
    }

    @Test("rules check warns about a refund without external_event_id and about integer amounts")
    func warnings() throws {
        let text = """
            rules:
              - name: r
                topics: [t]
                variables:
                  - {name: cents, expression: "payload.refund.amount / 100"}
                refund:
                  conversion: "payload.pi"
                  amount: "payload.amount_refunded / 100"
                  currency: "'USD'"
              - name: s
                topics: [t]
                refund: {conversion: "payload.pi", amount: "variables.cents", currency: "'USD'"}
                variables:
                  - {name: cents, expression: "payload.refund.amount / 100"}
            """
        let loaded = try Self.load(text)
        #expect(
            loaded.warnings.map(\.description) == [
                "relay.yaml:7:7: warning: refund rule 'r' has no external_event_id; it defaults to "
                    + "RULE:TOPIC:PARTITION:OFFSET, so a re-published source event refunds twice. Map the upstream "
                    + "event id (e.g. payload.id)",
                "relay.yaml:8:40: warning: refund.amount: integer division truncates (4999 / 100 is 49, not 49.99); "
                    + "divide doubles: double(x) / 100.0",
                "relay.yaml:12:14: warning: refund rule 's' has no external_event_id; it defaults to "
                    + "RULE:TOPIC:PARTITION:OFFSET, so a re-published source event refunds twice. Map the upstream "
                    + "event id (e.g. payload.id)",
                "relay.yaml:14:58: warning: variables.cents feeds refund.amount: integer division truncates (4999 / "
                    + "100 is 49, not 49.99); divide doubles: double(x) / 100.0",
            ])
    }

    // MARK: - Examples

    @Test("rules test: refund examples compare refund fields, and a kind mismatch says what the rule made")
    func examples() throws {
        let text = """
            rules:
              - name: r
                topics: [t]
                refund:
                  conversion: "payload.pi"
                  amount: "payload.?cents.hasValue() ? double(payload.cents) / 100.0 : null"
                  currency: "'EUR'"
                  external_event_id: "payload.id"
                examples:
                  - name: right
                    record: {value: {pi: pi_1, cents: 1250, id: evt_1}}
                    expect: {refund: {conversion: pi_1, amount: 12.5, currency: EUR}}
                  - name: full
                    record: {value: {pi: pi_1, id: evt_2}}
                    expect: {refund: {conversion: pi_1}, absent: [amount]}
                  - name: wrong conversion and amount
                    record: {value: {pi: pi_1, cents: 1250, id: evt_1}}
                    expect: {refund: {conversion: pi_2, amount: 10}}
                  - name: not full
                    record: {value: {pi: pi_1, cents: 1250, id: evt_1}}
                    expect: {absent: [amount], refund: {}}
                  - name: expects an event
                    record: {value: {pi: pi_1, id: evt_3}}
                    expect: {event: {event_name: x}}
                  - name: expects skip
                    record: {value: {pi: pi_1, id: evt_3}}
                    expect: {skip: true}
              - name: e
                topics: [u]
                event: {event_name: "'a'", customer_id: "'c'"}
                examples:
                  - name: expects a refund
                    record: {value: {}}
                    expect: {refund: {conversion: pi_1}}
            """
        let reports = try Self.load(text).ruleSet.runExamples()
        #expect(
            reports.map { "\($0.example): \($0.failure ?? "ok")" } == [
                "right: ok",
                "full: ok",
                #"wrong conversion and amount: conversion: expected "pi_2", got "pi_1"; amount: expected 10, got 12.5"#,
                "not full: amount: expected absent, but the refund sends 12.5",
                #"expects an event: expected an event, got refund of pi_1 {"currency":"EUR","external_event_id":"evt_3"}"#,
                #"expects skip: expected skip, got refund of pi_1 {"currency":"EUR","external_event_id":"evt_3"}"#,
                #"expects a refund: expected a refund, got event {"customer_id":"c","event_name":"a","#
                    + #""external_event_id":"e:u:0:0"}"#,
            ])
    }

    @Test("expect.refund and expect.absent name only refund fields")
    func expectationFields() {
        let text = """
            rules:
              - name: r
                topics: [t]
                refund: {conversion: "payload.pi", external_event_id: "payload.id"}
                examples:
                  - name: a
                    record: {value: {pi: pi_1}}
                    expect: {refund: {convresion: pi_1}}
                  - name: b
                    record: {value: {pi: pi_1}}
                    expect: {refund: {conversion: pi_1}, absent: [sale_amount]}
            """
        #expect(
            Self.errors(text) == [
                "relay.yaml:8:26: example 'a' expect.refund: 'convresion' is not a field of refunds; did you mean "
                    + "'conversion'?",
                "relay.yaml:11:55: example 'b' expect.absent: 'sale_amount' is not a field of refunds",
            ])
    }
}

/// `refunds.window`: how long conversions are remembered for refunds.
@Suite("refunds.window")
struct RefundsWindowTests {
    static let rules = "rules:\n  - {name: r, topics: [t], event: {event_name: \"'a'\", customer_id: \"'c'\"}}\n"

    @Test("defaults to 180 days; days and other durations are accepted")
    func window() throws {
        #expect(RelayConfiguration().refunds.window == .seconds(180 * 86_400))
        let loaded = try RefundRuleTests.load("refunds: {window: 90d}\n" + Self.rules)
        #expect(loaded.configuration.refunds.window == .seconds(90 * 86_400))
        let hours = try RefundRuleTests.load("refunds: {window: 36h}\n" + Self.rules)
        #expect(hours.configuration.refunds.window == .seconds(36 * 3600))
    }

    @Test(
        "out of range or misspelt: an error at the value",
        arguments: [
            (
                "refunds: {window: 12h}",
                "relay.yaml:1:19: refunds.window must be at least 1d, got 12h; it is how long conversions are "
                    + "remembered for their refunds (refunds come days or months after the sale: the default 180d "
                    + "covers Stripe's dispute window)"
            ),
            (
                "refunds: {window: 4000d}",
                "relay.yaml:1:19: refunds.window is too long: '4000d' is more than 10 years, the longest duration "
                    + "accepted; use a value such as 30s, 5m or 1h"
            ),
            (
                "refunds: {window: half a year}",
                "relay.yaml:1:19: refunds.window must be a duration such as 250ms, 30s, 5m or 1h, got 'half a year'"
            ),
            ("refunds: {windw: 30d}", "relay.yaml:1:11: unknown key 'windw' in refunds; did you mean 'window'?"),
        ])
    func outOfRange(line: String, message: String) {
        #expect(RefundRuleTests.errors(line + "\n" + Self.rules) == [message])
    }
}

/// What `rules check`, `rules test` and `rules apply` show of the shipped refund rules.
@Suite(
    "affonso-relay rules with refunds (binary)",
    .enabled(if: FileManager.default.isExecutableFile(atPath: relayBinary), "affonso-relay is not built")
)
struct RefundCommandTests {
    @Test("rules check counts refund rules; rules test runs their examples")
    func checkAndTest() async throws {
        let check = try await runRelay(["rules", "check", "--config", "examples/relay.yaml"], environment: [:])
        #expect(check.status == 0)
        #expect(check.standardOutput == "9 rules OK (6 event, 3 refund)\n")
        let test = try await runRelay(
            ["rules", "test", "--config", "examples/relay.yaml", "--rule", "stripe-charge-refunded"], environment: [:])
        #expect(test.status == 0)
        #expect(test.standardOutput.hasSuffix("3 passed, 0 failed\n"))
    }

    @Test("rules apply prints a refund as refund, with the conversion it reverses")
    func apply() async throws {
        let input = try String(
            contentsOfFile: repositoryRoot + "/examples/records/billing.paddle.jsonl", encoding: .utf8)
        let run = try await runRelay(
            ["rules", "apply", "--config", "examples/relay.yaml", "--topic", "billing.paddle"], environment: [:],
            input: input)
        #expect(run.status == 0)
        let lines = run.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines.first?.contains(#""event":{"#) == true)
        let refund: String =
            #"{"results":[{"rule":"paddle-adjustment-refund","refund":{"amount":25.0,"#
            + #""conversion":"txn_01jdq4a9k3m2n1p0q9r8s7t6u5","currency":"USD","#
            + #""external_event_id":"adj_01jdz7partial000000000000","#
            + #""reason":"customer was charged for a seat they removed","refunded_at":"2024-12-02T10:00:00Z"}}]}"#
        #expect(lines.dropFirst().first == refund)
        #expect(lines.dropFirst(2).first == #"{"skipped":true}"#)
    }
}
