import Foundation
import RelayConfig
import Rules
import Testing

/// `rules check` diagnostics for rules that would send wrong money: what the user reads, at file:line:col.
@Suite("rules that catch money mistakes")
struct MoneyLintTests {
    /// Every diagnostic (errors and warnings) of `text` loaded as relay.yaml, as `rules check` prints them.
    func diagnostics(_ text: String) -> [String] {
        do {
            let loaded = try RelayConfigLoader.load(
                text: text, file: "relay.yaml", environment: [:], purpose: .rules)
            return loaded.warnings.map(\.description)
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    @Test("integer division feeding sale_amount is a warning with the fix, at the '/'")
    func integerDivision() {
        let found = diagnostics(
            """
            rules:
              - name: checkout
                topics: [billing.stripe]
                variables:
                  - name: cs
                    expression: "payload.data.object"
                event:
                  event_name: "'checkout_completed'"
                  customer_id: "variables.cs.customer"
                  external_event_id: "payload.id"
                  sale_amount: "variables.cs.amount_total / 100"
            """)
        #expect(
            found == [
                "relay.yaml:11:47: warning: sale_amount: integer division truncates (4999 / 100 is 49, not 49.99); "
                    + "divide doubles: double(x) / 100.0"
            ])
    }

    @Test("a division in a variable that feeds sale_amount is reported in the variable")
    func divisionInVariable() {
        let found = diagnostics(
            """
            rules:
              - name: order
                topics: [orders]
                variables:
                  - name: amount
                    expression: "payload.total_cents / 1000"
                event:
                  event_name: "'order'"
                  customer_id: "payload.customer"
                  external_event_id: "payload.id"
                  sale_amount: "variables.amount"
            """)
        #expect(
            found == [
                "relay.yaml:6:42: warning: variables.amount feeds sale_amount: integer division truncates "
                    + "(4999 / 100 is 49, not 49.99); divide doubles: double(x) / 1000.0"
            ])
    }

    @Test(
        "an int-typed sale_amount is a warning; doubles, input values and constants are not",
        arguments: [
            ("int(payload.amount)", true), ("size(payload.items) * 10", true), ("payload.amount", false),
            ("double(payload.amount_cents) / 100.0", false), ("payload.amount_cents / 100.0", false),
            ("99", false),
        ])
    func intTyped(expression: String, warns: Bool) {
        let found = diagnostics(
            """
            rules:
              - name: order
                topics: [orders]
                event:
                  event_name: "'order'"
                  customer_id: "payload.customer"
                  sale_amount: "\(expression)"
            """)
        let expected =
            "relay.yaml:7:21: warning: sale_amount is always an int: Affonso takes the amount in major units (49.99), "
            + "and an integer here is usually minor units (cents); if it is, write double(x) / 100.0"
        #expect(found == (warns ? [expected] : []))
    }

    @Test("an undeclared variables.X is an error with did-you-mean, at the reference")
    func undeclaredVariable() {
        let found = diagnostics(
            """
            rules:
              - name: trial
                topics: [billing.stripe]
                match: "variables.sub.status == 'trialing'"
                variables:
                  - name: sub
                    expression: "payload.data.object"
                  - name: items
                    expression: "variables.prices.map(p, p.id)"
                  - name: prices
                    expression: "variables.sub.items.data"
                event:
                  event_name: "'trial_started'"
                  customer_id: "variables.subscription.customer"
            """)
        #expect(
            found == [
                "relay.yaml:4:13: match: variables.sub is not available in match, which runs before the variables; "
                    + "test the value itself (e.g. payload.…)",
                "relay.yaml:9:22: variables.items: variables.prices is declared below this variable; variables are "
                    + "evaluated in order, so move 'prices' above it",
                "relay.yaml:14:21: event.customer_id: variables.subscription is not declared; "
                    + "did you mean 'variables.sub'?",
            ])
    }

    @Test(
        "a match that cannot be a bool is an error",
        arguments: [
            ("'invoice.paid'", "a string"), ("payload.amount + 1", "an int"), ("payload.items.map(i, i.id)", "a list"),
        ])
    func matchNotBool(match: String, type: String) {
        let found = diagnostics(
            """
            rules:
              - name: paid
                topics: [billing.stripe]
                match: "\(match)"
                event:
                  event_name: "'paid'"
                  customer_id: "payload.customer"
            """)
        #expect(
            found == [
                "relay.yaml:4:13: match: must be a bool, but this expression is always \(type); "
                    + "compare it (e.g. payload.type == 'invoice.paid')"
            ])
    }

    static func twoConversions(
        _ firstMatch: String, _ secondMatch: String, secondTopic: String = "billing.stripe"
    )
        -> String
    {
        """
        rules:
          - name: paid
            topics: [billing.stripe]
            match: "\(firstMatch)"
            event:
              event_name: "'invoice_paid'"
              event_type: "'conversion'"
              customer_id: "payload.customer"
              external_event_id: "payload.id"
          - name: checkout
            topics: [\(secondTopic)]
            match: "\(secondMatch)"
            event:
              event_name: "'checkout'"
              event_type: "'conversion'"
              customer_id: "payload.customer"
              external_event_id: "payload.id"
        """
    }

    @Test("two conversion rules whose matches do not exclude each other: a warning naming both")
    func overlappingConversions() {
        let found = diagnostics(
            Self.twoConversions("payload.amount_paid > 0", "payload.type == 'checkout.session.completed'"))
        #expect(
            found == [
                "relay.yaml:12:13: warning: rules 'paid' and 'checkout' can both emit a conversion for the same record "
                    + "of topic 'billing.stripe' (their matches do not exclude each other), so that sale is counted "
                    + "twice; make the matches exclusive (e.g. payload.type == '…' with different values) or keep "
                    + "one conversion rule"
            ])
    }

    @Test(
        "conversion rules on different topics, or with exclusive tests, are not an overlap",
        arguments: [
            ("payload.type == 'a' && payload.x > 1", "payload.type == 'b'", "billing.stripe"),
            ("payload.type in ['a', 'b']", "payload.type == 'c'", "billing.stripe"),
            ("payload.status != 'open'", "payload.status == 'open'", "billing.stripe"),
            ("true", "true", "orders"),
        ])
    func exclusiveConversions(first: String, second: String, topic: String) {
        #expect(diagnostics(Self.twoConversions(first, second, secondTopic: topic)) == [])
    }

    @Test("invoice.paid beside checkout.session.completed warns about a new subscription's first payment")
    func stripeFirstPayment() {
        let found = diagnostics(
            Self.twoConversions("payload.type == 'invoice.paid'", "payload.type == 'checkout.session.completed'"))
        #expect(
            found == [
                "relay.yaml:12:13: warning: rules 'checkout' (checkout.session.completed) and 'paid' (invoice.paid) "
                    + "both emit a conversion for a new subscription's first payment, which Stripe reports with both "
                    + "events, so that sale is counted twice; add payload.data.object.billing_reason != "
                    + "'subscription_create' to the invoice.paid match or payload.data.object.mode == 'payment' to "
                    + "the checkout.session.completed match (docs/stripe.md)"
            ])
        let fixed = diagnostics(
            Self.twoConversions(
                "payload.type == 'invoice.paid' && payload.data.object.billing_reason != 'subscription_create'",
                "payload.type == 'checkout.session.completed'"))
        #expect(fixed == [])
    }
}
