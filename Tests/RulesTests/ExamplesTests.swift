import Foundation
import RelayConfig
import Rules
import Testing

@Suite("examples/relay.yaml")
struct ExamplesTests {
    static let config = repositoryRoot + "/examples/relay.yaml"

    @Test("every example of every shipped rule passes (what `rules test` runs)")
    func examplesPass() throws {
        let loaded = try RelayConfigLoader.load(path: Self.config, environment: [:], purpose: .rules)
        let reports = loaded.ruleSet.runExamples()
        #expect(reports.count >= 10)
        for report in reports where !report.passed {
            Issue.record("\(report.rule) / \(report.example): \(report.failure ?? "")")
        }
        #expect(Set(reports.map(\.rule)) == Set(loaded.ruleSet.ruleNames), "every rule has examples")
        #expect(loaded.warnings.isEmpty)
    }

    @Test("the example configuration loads for the service when AFFONSO_API_KEY is set, and says so when not")
    func serviceLoad() throws {
        let loaded = try RelayConfigLoader.load(path: Self.config, environment: ["AFFONSO_API_KEY": "sk_test_1"])
        #expect(loaded.configuration.affonso.apiKey == "sk_test_1")
        #expect(
            loaded.configuration.kafka.topics == ["billing.stripe", "billing.paddle", "app.lifecycle", "app.orders"])
        #expect(loaded.configuration.retry.tiers.count == 3)
        #expect(loaded.configuration.rules.count == 9)
        #expect {
            _ = try RelayConfigLoader.load(path: Self.config, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.errors.map(\.description) == [
                Self.config + ":14:12: environment variable 'AFFONSO_API_KEY' is not set (referenced as "
                    + "${AFFONSO_API_KEY}); export it, give a default with ${AFFONSO_API_KEY:-value}, or remove the "
                    + "reference"
            ]
        }
    }

    @Test("an example that expects the wrong value fails with the difference")
    func failingExample() throws {
        let text = """
            rules:
              - name: r
                topics: [t]
                event: {event_name: "'a'", customer_id: "payload.c"}
                examples:
                  - name: wrong
                    record: {value: {c: cus_1}}
                    expect: {event: {customer_id: cus_2}}
                  - name: wrong kind
                    record: {value: {c: cus_1}}
                    expect: {skip: true}
            """
        let loaded = try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:], purpose: .rules)
        let failures = loaded.ruleSet.runExamples().compactMap(\.failure)
        #expect(
            failures == [
                #"customer_id: expected "cus_2", got "cus_1""#,
                #"expected skip, got event {"customer_id":"cus_1","event_name":"a","external_event_id":"r:t:0:0"}"#,
            ])
    }

    @Test("a broken copy of the example reports file:line:col")
    func brokenCopy() throws {
        let original = try String(contentsOfFile: repositoryRoot + "/examples/rules/stripe.yaml", encoding: .utf8)
        let broken = original.replacingOccurrences(
            of: #"event_name: "'invoice_paid'""#, with: "event_name: invoice_paid")
        #expect(broken != original)
        #expect {
            _ = try RelayConfigLoader.load(
                text: broken, file: repositoryRoot + "/examples/rules/stripe.yaml", environment: [:], purpose: .rules)
        } throws: { error in
            let lines = (error as? ConfigError)?.errors.map(\.description) ?? []
            return lines.count == 1
                && lines[0].hasSuffix(
                    "examples/rules/stripe.yaml:19:19: event.event_name: undeclared reference 'invoice_paid'; "
                        + "did you mean the string 'invoice_paid'?")
        }
    }
}
