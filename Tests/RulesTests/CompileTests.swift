import CEL
import Rules
import Testing

@Suite("Rule compilation")
struct CompileTests {
    func errors(_ rules: [RuleDefinition]) -> [RuleIssue] { RuleSet.compile(rules).errors }

    static let ok: [(String, String)] = [("event_name", "'x'"), ("customer_id", "'c'")]

    @Test("bad and duplicate rule names")
    func names() {
        let issues = errors([
            rule("Invoice_Paid", event: Self.ok), rule("dup", event: Self.ok), rule("dup", event: Self.ok),
        ])
        #expect(
            issues.map(\.message) == [
                "rule name 'Invoice_Paid' is invalid; use lower-case letters, digits and '-' ([a-z0-9-]+)",
                "duplicate rule name 'dup' (rule #2 has it too); names must be unique",
            ])
        #expect(issues.map(\.path) == [.name, .name])
    }

    @Test("empty topics, empty topic names and bad regular expressions")
    func topics() {
        let issues = errors([
            rule("a", topics: [], event: Self.ok), rule("b", topics: [""], event: Self.ok),
            rule("c", topics: ["/billing.(/"], event: Self.ok),
        ])
        #expect(issues.count == 3)
        #expect(issues[0].message.contains("has no topics"))
        #expect(issues[1].message.contains("empty topic name"))
        #expect(issues[2].message.contains("topic pattern /billing.(/ is not a valid regular expression"))
        #expect(issues[2].path == .topic(0))
    }

    @Test("unknown event keys get a did-you-mean; event_name is required; alias conflicts")
    func eventKeys() {
        let issues = errors([
            rule("a", event: [("event_name", "'x'"), ("customer", "'c'")]),
            rule("b", event: [("customer_id", "'c'")]),
            rule("c", event: [("event_name", "'x'"), ("affonso_id", "'r'"), ("referral_id", "'r'")]),
            rule("d", event: [("event_name", "'x'"), ("event_type", "'purchase'"), ("customer_id", "'c'")]),
        ])
        #expect(
            issues.map(\.message) == [
                "'customer' is not a field of Affonso events; did you mean 'customer_id'?",
                "rule 'b' event has no event_name; it is required",
                "set referral_id or its alias affonso_id, not both",
                "event_type 'purchase' is not one of conversion, lead, trial, milestone",
            ])
    }

    @Test("an unquoted string gets the classic hint, at the identifier's position")
    func unquotedString() throws {
        let issues = errors([rule("a", event: [("event_name", "invoice_paid"), ("customer_id", "'c'")])])
        let issue = try #require(issues.first)
        #expect(
            issue.message
                == "event.event_name: undeclared reference 'invoice_paid'; did you mean the string 'invoice_paid'?")
        #expect(issue.path == .eventValue("event_name"))
        #expect(issue.position?.column == 1)
    }

    @Test("variables used without the variables. prefix, and unknown roots, are caught; macro variables are not")
    func references() {
        let issues = errors([
            rule(
                "a",
                variables: [("invoice", "payload.data")],
                event: [
                    ("event_name", "'x'"), ("customer_id", "invoice.customer"),
                    ("price_ids", "payload.lines.map(l, l.price.id).filter(p, p != '')"),
                    ("metadata", "cel.bind(total, payload.a + payload.b, {'t': total, 'k': paylod.k})"),
                    ("product_ids", "payload.items.exists(i, v, v > 0) ? [] : payload.x.?y.orValue([])"),
                ]
            )
        ])
        #expect(
            issues.map(\.message) == [
                "event.customer_id: undeclared reference 'invoice'; did you mean 'variables.invoice'?",
                "event.metadata: undeclared reference 'paylod'; expressions see payload, record, ce and variables (quote it if it is a string: 'paylod')",
            ])
    }

    @Test("CEL syntax errors carry the position inside the expression")
    func syntaxError() throws {
        let issue = try #require(errors([rule("a", match: "payload.type == 'x' &&", event: Self.ok)]).first)
        #expect(issue.path == .match)
        #expect(issue.message.hasPrefix("match: "))
        #expect(issue.position != nil)
        #expect(!issue.message.contains("\n"), "one line per diagnostic")
    }

    @Test("a conversion without external_event_id is a warning, not an error")
    func conversionWarning() throws {
        let compilation = RuleSet.compile([
            rule(
                "sale",
                event: [
                    ("event_name", "'x'"), ("event_type", "'conversion'"), ("customer_id", "'c'"),
                    ("sale_amount", "1"), ("sale_amount_currency", "'USD'"),
                ]
            )
        ])
        #expect(compilation.ruleSet != nil)
        let warning = try #require(compilation.warnings.first)
        #expect(warning.message.contains("has no external_event_id; it defaults to RULE:TOPIC:PARTITION:OFFSET"))
    }
}
