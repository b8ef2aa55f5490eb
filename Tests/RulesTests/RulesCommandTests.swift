import Foundation
import Testing

/// The built `affonso-relay` (debug, else release).
let relayBinary: String = {
    let debug = repositoryRoot + "/.build/debug/affonso-relay"
    return FileManager.default.isExecutableFile(atPath: debug)
        ? debug : repositoryRoot + "/.build/release/affonso-relay"
}()

/// Writes `text` as relay.yaml in a new temporary directory, for a command test.
/// - Returns: the file's path; ``removeTemporaryConfig(_:)`` removes its directory.
func writeTemporaryConfig(_ text: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "relay-test-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("relay.yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

func removeTemporaryConfig(_ path: String) {
    try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent())
}

/// Runs the built `affonso-relay` binary (built by `swift build` / `swift test` beside the tests).
@Suite(
    "affonso-relay rules (binary)",
    .enabled(if: FileManager.default.isExecutableFile(atPath: relayBinary), "affonso-relay is not built")
)
struct RulesCommandTests {

    struct Run {
        var status: Int32
        var standardOutput: String
        var standardError: String
    }

    func run(_ arguments: [String], input: String = "") async throws -> Run {
        let run = try await runRelay(arguments, input: input)
        return Run(status: run.status, standardOutput: run.standardOutput, standardError: run.standardError)
    }

    @Test(
        "bad flags exit 2 with one line naming the flag",
        arguments: [
            ["rules", "check"], ["rules", "test", "--config"], ["sandbox", "--latency", "5parsecs"],
            // Absurd durations are refused, not trapped on.
            ["sandbox", "--port", "0", "--timeout-hold", "1e30s"],
            ["sandbox", "--port", "0", "--latency", "99999999h"],
            ["sandbox", "--port", "0", "--outage-for", "inf"],
        ]
    )
    func badFlags(arguments: [String]) async throws {
        let result = try await run(arguments)
        #expect(result.status == 2)
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(result.standardError)")
        #expect(lines.first?.contains("--") == true)
    }

    @Test("rules test passes on the shipped examples")
    func rulesTest() async throws {
        let result = try await run(["rules", "test", "--config", "examples/relay.yaml"])
        #expect(result.status == 0)
        #expect(result.standardOutput.hasSuffix("25 passed, 0 failed\n"))
    }

    @Test("rules check on a broken copy prints file:line:col and exits 1")
    func rulesCheckBroken() async throws {
        let config = try writeTemporaryConfig(
            """
            rules:
              - name: paid
                topics: [billing.stripe]
                event:
                  event_name: invoice_paid
                  customer_id: "payload.customer"
            """)
        defer { removeTemporaryConfig(config) }
        let result = try await run(["rules", "check", "--config", config])
        #expect(result.status == 1)
        #expect(
            result.standardError
                == "\(config):5:19: event.event_name: undeclared reference 'invoice_paid'; did you mean the string 'invoice_paid'?\n"
        )
    }

    @Test("rules apply writes one line per input line, in order; a missing config exits 2")
    func rulesApply() async throws {
        let input = """
            {"value": {"type": "user.signed_up", "event_id": "e1", "occurred_at": "2026-11-25T14:03:12Z", "user": {"id": "u1", "plan": "free"}}}
            {"value": {"type": "user.logged_in"}}
            not json
            """
        let result = try await run(
            ["rules", "apply", "--config", "examples/relay.yaml", "--topic", "app.lifecycle"], input: input)
        #expect(result.status == 0)
        let lines = result.standardOutput.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(
            lines.first?.hasPrefix(#"{"results":[{"rule":"app-user-signed-up","event":{"event_name":"signup""#) == true)
        #expect(lines.dropFirst().first == #"{"skipped":true}"#)
        #expect(lines.last?.hasPrefix(#"{"error":{"class":"decode","message":"input line 3: "#) == true)

        let missing = try await run(["rules", "apply", "--config", "nope.yaml", "--topic", "t"])
        #expect(missing.status == 2)
        #expect(missing.standardError == "nope.yaml: cannot read the configuration file (does it exist?)\n")
    }
}
