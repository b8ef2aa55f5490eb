import CEL
import Rules
import Testing

@Suite("Affonso contract validation")
struct ValidationTests {
    /// (what, event fields, field named in the error, text in the error)
    static let violations: [(String, [(String, String)], String, String)] = [
        ("no identifier", [("event_name", "'x'")], "referral_id", "no identifier"),
        (
            "identifier evaluates to null", [("event_name", "'x'"), ("customer_id", "null")], "referral_id",
            "no identifier"
        ),
        ("empty event name", [("event_name", "''"), ("customer_id", "'c'")], "event_name", "must not be empty"),
        (
            "event name not a string", [("event_name", "42"), ("customer_id", "'c'")], "event_name",
            "must be a string, got 42 (int); use string"
        ),
        (
            "unknown event type", [("event_name", "'x'"), ("event_type", "'purchase' + ''"), ("customer_id", "'c'")],
            "event_type", "got \"purchase\" (string)"
        ),
        (
            "int identifier", [("event_name", "'x'"), ("external_user_id", "12345")], "external_user_id",
            "must be a string, got 12345 (int)"
        ),
        (
            "conversion without amount",
            [
                ("event_name", "'x'"), ("event_type", "'conversion'"), ("customer_id", "'c'"),
                ("sale_amount_currency", "'USD'"),
            ], "sale_amount", "is required for a conversion"
        ),
        (
            "conversion without currency",
            [("event_name", "'x'"), ("event_type", "'conversion'"), ("customer_id", "'c'"), ("sale_amount", "5")],
            "sale_amount_currency", "is required for a conversion"
        ),
        (
            "zero amount", [("event_name", "'x'"), ("customer_id", "'c'"), ("sale_amount", "0.0")], "sale_amount",
            "positive finite amount in major units, got 0.0 (double)"
        ),
        (
            "negative amount", [("event_name", "'x'"), ("customer_id", "'c'"), ("sale_amount", "-5")], "sale_amount",
            "got -5 (int)"
        ),
        (
            "infinite amount", [("event_name", "'x'"), ("customer_id", "'c'"), ("sale_amount", "1.0 / 0.0")],
            "sale_amount", "positive finite"
        ),
        (
            "NaN amount", [("event_name", "'x'"), ("customer_id", "'c'"), ("sale_amount", "double('NaN')")],
            "sale_amount", "positive finite"
        ),
        (
            "amount as string", [("event_name", "'x'"), ("customer_id", "'c'"), ("sale_amount", "'99.00'")],
            "sale_amount", "must be a number, got \"99.00\" (string)"
        ),
        (
            "lower-case currency", [("event_name", "'x'"), ("customer_id", "'c'"), ("sale_amount_currency", "'usd'")],
            "sale_amount_currency", "use .upperAscii()"
        ),
        (
            "not a currency", [("event_name", "'x'"), ("customer_id", "'c'"), ("sale_amount_currency", "'ABC'")],
            "sale_amount_currency", "ISO 4217 currency code, got \"ABC\""
        ),
        (
            "gold is not a sale currency",
            [("event_name", "'x'"), ("customer_id", "'c'"), ("sale_amount_currency", "'XAU'")], "sale_amount_currency",
            "ISO 4217"
        ),
        (
            "bad interval", [("event_name", "'x'"), ("customer_id", "'c'"), ("interval", "'month'")], "interval",
            "must be 'monthly' or 'yearly', got \"month\""
        ),
        (
            "ids not a list", [("event_name", "'x'"), ("customer_id", "'c'"), ("price_ids", "'price_1'")], "price_ids",
            "must be a list of strings"
        ),
        (
            "ids with a number", [("event_name", "'x'"), ("customer_id", "'c'"), ("product_ids", "['p', 2]")],
            "product_ids", "has 2 (int)"
        ),
        (
            "subscription flag not bool",
            [("event_name", "'x'"), ("customer_id", "'c'"), ("is_subscription", "'yes'")], "is_subscription",
            "must be a bool"
        ),
        (
            "metadata not a map", [("event_name", "'x'"), ("customer_id", "'c'"), ("metadata", "[1]")], "metadata",
            "must be a map"
        ),
        (
            "metadata with NaN",
            [("event_name", "'x'"), ("customer_id", "'c'"), ("metadata", "{'a': {'b': double('NaN')}}")], "metadata",
            "metadata.a.b is nan"
        ),
        (
            "metadata with int keys", [("event_name", "'x'"), ("customer_id", "'c'"), ("metadata", "{1: 'a'}")],
            "metadata", "non-string key"
        ),
        (
            "occurred_at not a time",
            [("event_name", "'x'"), ("customer_id", "'c'"), ("occurred_at", "'last tuesday'")], "occurred_at",
            "RFC 3339"
        ),
        (
            "occurred_at as epoch int", [("event_name", "'x'"), ("customer_id", "'c'"), ("occurred_at", "1732546800")],
            "occurred_at", "use timestamp(…)"
        ),
        (
            "empty external id", [("event_name", "'x'"), ("customer_id", "'c'"), ("external_event_id", "''")],
            "external_event_id", "must not be empty"
        ),
    ]

    @Test("contract violations are validation errors naming rule, field and value", arguments: violations)
    func violation(_ testCase: (String, [(String, String)], String, String)) throws {
        let ruleSet = try makeRuleSet([rule("checked", event: testCase.1)])
        let error = try #require(ruleSet.apply(record("{}")).results.first?.error, "\(testCase.0) was accepted")
        #expect(error.errorClass == "validation")
        #expect(error.rule == "checked")
        #expect(error.field == testCase.2)
        #expect(error.message.hasPrefix("rule 'checked' field '\(testCase.2)': "))
        #expect(error.message.contains(testCase.3), "\(error.message)")
    }

    @Test("a complete conversion passes and keeps ints and doubles as JSON numbers")
    func validConversion() throws {
        let ruleSet = try makeRuleSet([
            rule(
                "ok",
                event: [
                    ("event_name", "'sale'"), ("event_type", "'conversion'"), ("customer_id", "'cus_1'"),
                    ("sale_amount", "99"), ("sale_amount_currency", "'EUR'"), ("external_event_id", "'e1'"),
                    ("interval", "'yearly'"), ("is_subscription", "true"), ("price_ids", "['p1']"),
                    ("occurred_at", "'2026-11-25T10:00:00+02:00'"),
                ]
            )
        ])
        let event = try #require(ruleSet.apply(record("{}")).results.first?.event)
        #expect(
            event.bodyString
                == #"{"customer_id":"cus_1","event_name":"sale","event_type":"conversion","external_event_id":"e1","#
                + #""interval":"yearly","is_subscription":true,"occurred_at":"2026-11-25T10:00:00+02:00","#
                + #""price_ids":["p1"],"sale_amount":99,"sale_amount_currency":"EUR"}"#
        )
    }
}
