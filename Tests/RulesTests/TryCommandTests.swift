import Foundation
import Testing

/// Trying rules on real data: `rules apply --raw | --fail-on-error` and `cel eval --payload-file | --record-file`.
@Suite(
    "trying rules on real data (binary)",
    .enabled(if: FileManager.default.isExecutableFile(atPath: relayBinary), "affonso-relay is not built")
)
struct TryCommandTests {
    static let invoice = "examples/fixtures/stripe-invoice-paid.json"
    static let apply = ["rules", "apply", "--config", "examples/relay.yaml", "--topic", "billing.stripe"]

    func fixture(_ path: String) throws -> String {
        try String(contentsOfFile: repositoryRoot + "/" + path, encoding: .utf8)
    }

    @Test("--raw maps a pretty-printed file as one record value")
    func rawFile() async throws {
        let result = try await runRelay(Self.apply + ["--raw"], input: try fixture(Self.invoice))
        #expect(result.status == 0)
        let lines = result.standardOutput.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(
            lines.first?.hasPrefix(
                #"{"results":[{"rule":"stripe-invoice-paid","event":{"customer_id":"cus_R8bXkQ3mZ1vT9a""#)
                == true)
    }

    @Test("--raw maps each line as a record value; --fail-on-error exits 1 when a rule failed")
    func rawLines() async throws {
        let input = #"{"type": "customer.created"}"# + "\n" + #"{"type": "invoice.paid"}"# + "\n"
        let result = try await runRelay(Self.apply + ["--raw", "--fail-on-error"], input: input)
        #expect(result.status == 1)
        let lines = result.standardOutput.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first == #"{"skipped":true}"#)
        #expect(lines.last?.contains(#""class":"mapping""#) == true)
        let lenient = try await runRelay(Self.apply + ["--raw"], input: input)
        #expect(lenient.status == 0)
    }

    @Test("without the {\"value\": …} wrapper: decode errors, one hint naming --raw, exit 1 only with --fail-on-error")
    func missingWrapperHint() async throws {
        let input = #"{"id": "evt_1", "type": "invoice.paid"}"# + "\n"
        let result = try await runRelay(Self.apply, input: input)
        #expect(result.status == 0)
        #expect(result.standardOutput.hasPrefix(#"{"error":{"class":"decode""#))
        #expect(
            result.standardError
                == "hint: input line 1 is not a rules apply line ({\"value\": <record value>, \"key\": …}); if each "
                + "line (or the whole input) is the record value itself, use --raw\n")
        let strict = try await runRelay(Self.apply + ["--fail-on-error"], input: try fixture(Self.invoice))
        #expect(strict.status == 1)
        #expect(strict.standardError.split(separator: "\n").count == 1)
        let wrapped = try await runRelay(Self.apply + ["--fail-on-error"], input: #"{"value": {"type": "x"}}"# + "\n")
        #expect(wrapped.status == 0)
        #expect(wrapped.standardError.isEmpty)
    }

    @Test("cel eval --payload-file binds payload with the relay's number typing")
    func payloadFile() async throws {
        let result = try await runRelay([
            "cel", "eval", "payload.data.object.amount_paid / 100", "--payload-file", Self.invoice,
        ])
        #expect(result.status == 0)
        #expect(result.standardOutput == #"{"int":"99"}"# + "\n")
        let missing = try await runRelay(["cel", "eval", "1", "--payload-file", "/nonexistent.json"])
        #expect(missing.status == 2)
        #expect(
            missing.standardError == "error: --payload-file /nonexistent.json: cannot read the file (does it exist?)\n")
    }

    @Test("cel eval --record-file binds payload, record and ce as a rule sees them")
    func recordFile() async throws {
        let line = try fixture("examples/records/identity.kyc.v2.jsonl").split(separator: "\n").first ?? ""
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "record-\(UInt64.random(in: 0...UInt64.max)).json"
        ).path
        try String(line).write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await runRelay([
            "cel", "eval", "[ce.type, record.topic, record.key]", "--record-file", file, "--topic", "identity.kyc.v2",
        ])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(
            result.standardOutput
                == #"{"list":[{"string":"com.example.kyc.passed"},{"string":"identity.kyc.v2"},{"string":"usr_01JDX4W9K6Q8Y3N2"}]}"#
                + "\n")
    }
}
