import Foundation
import RelayConfig
import Testing

/// `rules test` (absent fields, --rule, file:line on FAIL, JUnit) and `rules check --strict`, as a user runs them.
extension RulesCommandTests {
    /// A directory with `relay.yaml` holding `text`, removed by the caller.
    func configFile(_ text: String) throws -> (directory: URL, path: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "rules-test-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("relay.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (directory, path)
    }

    static let examples = """
        rules:
          - name: signup
            topics: [app]
            event:
              event_name: "'signup'"
              customer_id: "payload.user"
              referral_id: "payload.?ref"
            examples:
              - name: no referral
                record: {value: {user: u1}}
                expect: {event: {customer_id: u1}, absent: [referral_id]}
              - name: referral is absent but sent
                record: {value: {user: u2, ref: r9}}
                expect: {absent: [referral_id]}
          - name: other
            topics: [app]
            event:
              event_name: "'other'"
              customer_id: "payload.user"
            examples:
              - name: other passes
                record: {value: {user: u3}}
                expect: {event: {event_name: other}}
        """

    @Test("rules test: absent fields, and each FAIL names the example's file:line")
    func absentAndLocations() async throws {
        let (directory, config) = try configFile(Self.examples)
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await run(["rules", "test", "--config", config])
        #expect(result.status == 1)
        #expect(
            result.standardOutput == """
                ok   signup / no referral
                FAIL \(config):12: signup / referral is absent but sent: referral_id: expected absent, but the event sends "r9"
                ok   other / other passes
                2 passed, 1 failed

                """)
    }

    @Test("rules test --rule runs one rule's examples; an unknown name exits 2 with a suggestion")
    func ruleFilter() async throws {
        let (directory, config) = try configFile(Self.examples)
        defer { try? FileManager.default.removeItem(at: directory) }
        let one = try await run(["rules", "test", "--config", config, "--rule", "other"])
        #expect(one.status == 0)
        #expect(one.standardOutput == "ok   other / other passes\n1 passed, 0 failed\n")
        let unknown = try await run(["rules", "test", "--config", config, "--rule", "othr"])
        #expect(unknown.status == 2)
        #expect(unknown.standardError == "--rule othr: \(config) has no rule named 'othr'; did you mean 'other'?\n")
    }

    @Test("rules test --format junit --output writes the JUnit report and still prints the text")
    func junit() async throws {
        let (directory, config) = try configFile(Self.examples)
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = directory.appendingPathComponent("junit.xml").path
        let result = try await run(["rules", "test", "--config", config, "--format", "junit", "--output", report])
        #expect(result.status == 1)
        #expect(result.standardOutput.hasSuffix("2 passed, 1 failed\n"))
        let failure = "referral_id: expected absent, but the event sends &quot;r9&quot;"
        #expect(
            try String(contentsOfFile: report, encoding: .utf8) == """
                <?xml version="1.0" encoding="UTF-8"?>
                <testsuites name="affonso-relay rules test" tests="3" failures="1">
                  <testsuite name="signup" tests="2" failures="1">
                    <testcase classname="signup" name="no referral" file="\(config)" line="9"/>
                    <testcase classname="signup" name="referral is absent but sent" file="\(config)" line="12">
                      <failure message="\(failure)">\(config):12: \(failure)</failure>
                    </testcase>
                  </testsuite>
                  <testsuite name="other" tests="1" failures="0">
                    <testcase classname="other" name="other passes" file="\(config)" line="21"/>
                  </testsuite>
                </testsuites>

                """)
    }

    @Test("rules check --strict fails on a warning; without it the warning is printed and the check passes")
    func strict() async throws {
        let (directory, config) = try configFile(
            """
            rules:
              - name: order
                topics: [orders]
                event:
                  event_name: "'order'"
                  customer_id: "payload.customer"
                  sale_amount: "payload.total_cents / 100"
            """)
        defer { try? FileManager.default.removeItem(at: directory) }
        let warning =
            "\(config):7:41: warning: sale_amount: integer division truncates (4999 / 100 is 49, not 49.99); "
            + "divide doubles: double(x) / 100.0\n"
        let lenient = try await run(["rules", "check", "--config", config])
        #expect(lenient.status == 0)
        #expect(lenient.standardOutput == warning + "1 rule OK\n")
        let strict = try await run(["rules", "check", "--config", config, "--strict"])
        #expect(strict.status == 1)
        #expect(strict.standardOutput == warning)
        #expect(strict.standardError == "1 warning with --strict: fix it or run without --strict\n")
    }
}

@Suite("rules test expectations in relay.yaml")
struct ExampleExpectationTests {
    @Test("a misspelt absent field is an error with did-you-mean, at the entry")
    func misspeltAbsent() {
        let text = """
            rules:
              - name: signup
                topics: [app]
                event:
                  event_name: "'signup'"
                  customer_id: "payload.user"
                examples:
                  - name: plain
                    record: {value: {user: u1}}
                    expect: {absent: [refferal_id]}
            """
        #expect(throws: ConfigError.self) {
            _ = try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:], purpose: .rules)
        }
        do {
            _ = try RelayConfigLoader.load(text: text, file: "relay.yaml", environment: [:], purpose: .rules)
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    "relay.yaml:10:27: example 'plain' expect.absent: 'refferal_id' is not a field of Affonso events; "
                        + "did you mean 'referral_id'?"
                ])
        }
    }
}
