import Foundation
import Testing

/// Every command that takes a configuration, run as a user runs it on a corpus of bad configurations: exit 2,
/// one line naming the place and the problem, never a crash, a Swift type name or Foundation's wording.
@Suite(
    "bad configurations (binary)",
    .enabled(if: FileManager.default.isExecutableFile(atPath: relayBinary), "affonso-relay is not built")
)
struct BadConfigCommandTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var yaml: String
        /// `:line:col: message` after the file name (or `: message` for problems of the whole file).
        var expected: String
        /// Checked only by the commands that start clients (not `rules check|test`, which run without the files
        /// a pod mounts).
        var serviceOnly = false
        /// Checked only by the commands that need the API key (not `topics ensure` and `dlq inspect`).
        var needsKey = false
        var description: String { name }
    }

    static let rules = """
        rules:
          - name: r
            topics: [t]
            event: {event_name: "'x'", customer_id: "payload.c"}
        """

    static let corpus: [Case] = [
        Case(
            name: "misspelt librdkafka property",
            yaml: "kafka:\n  client_properties:\n    sasl.pasword: hunter2\n",
            expected:
                ":3:5: kafka.client_properties: librdkafka has no property 'sasl.pasword'; did you mean 'sasl.password'?"
        ),
        Case(
            name: "invalid librdkafka value",
            yaml: "kafka:\n  client_properties:\n    security.protocol: SASL_SSLL\n",
            expected: ":3:24: kafka.client_properties.security.protocol: librdkafka rejected the value 'SASL_SSLL'"
        ),
        Case(
            name: "client librdkafka cannot create",
            yaml:
                "kafka:\n  client_properties:\n    security.protocol: SSL\n    ssl.ca.location: /nonexistent/ca.pem\n",
            expected: ":3:5: kafka.client_properties: librdkafka cannot create a client",
            serviceOnly: true
        ),
        Case(
            name: "settings that do not go with the relay's own",
            yaml: "kafka:\n  client_properties:\n    message.timeout.ms: \"1\"\n",
            expected: ":3:5: kafka.client_properties: librdkafka cannot create a client from these properties: "
                + "`message.timeout.ms` must be greater than `linger.ms`",
            serviceOnly: true
        ),
        Case(
            name: "unreadable API key file",
            yaml: "affonso:\n  api_key_file: /nonexistent/key\n",
            expected: ":2:17: affonso.api_key_file '/nonexistent/key' cannot be read",
            serviceOnly: true,
            needsKey: true
        ),
        Case(
            name: "unknown section",
            yaml: "kafak:\n  brokers: [b:9092]\n",
            expected: ":1:1: unknown key 'kafak' in the configuration; did you mean 'kafka'?"
        ),
        Case(
            name: "bad duration",
            yaml: "server:\n  shutdown_grace: 10 seconds\n",
            expected: ":2:19: server.shutdown_grace must be a duration such as 250ms, 30s, 5m or 1h, got '10 seconds'"
        ),
        Case(name: "not YAML", yaml: "kafka: [\n", expected: ":2:1: invalid YAML"),
    ]

    static let commands: [[String]] = [
        ["config", "check"], ["rules", "check"], ["rules", "test"], ["run"], ["topics", "ensure"], ["dlq", "inspect"],
        ["dlq", "replay"],
    ]

    static var cases: [(Case, [String])] {
        corpus.flatMap { item in
            commands.filter { command in
                let keyless = command == ["topics", "ensure"] || command == ["dlq", "inspect"]
                return (!item.serviceOnly || command.first != "rules") && (!item.needsKey || !keyless)
            }.map { (item, $0) }
        }
    }

    @Test("exit 2 with one line naming the place and the problem", arguments: cases)
    func badConfiguration(item: Case, command: [String]) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bad-config-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("relay.yaml").path
        var yaml = item.yaml
        if item.name != "not YAML" {
            yaml += (yaml.contains("affonso:") ? "" : "affonso: {api_key: k}\n") + Self.rules
        }
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await runRelay(command + ["--config", config])
        #expect(result.status == 2, "\(command) exited \(result.status): \(result.standardError)")
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(command): expected one line, got: \(result.standardError)")
        #expect(
            lines.first?.hasPrefix(config + item.expected) == true,
            "\(command): expected \(config + item.expected), got: \(result.standardError)")
        for wording in ["KafkaError", "AffonsoError", "ConfigError", "could not be completed", "Fatal error"] {
            #expect(!result.standardError.contains(wording))
        }
    }

    @Test("a missing file is one line, exit 2, for every command", arguments: commands)
    func missingFile(command: [String]) async throws {
        let result = try await runRelay(command + ["--config", "/nonexistent/relay.yaml"])
        #expect(result.status == 2)
        #expect(
            result.standardError == "/nonexistent/relay.yaml: cannot read the configuration file (does it exist?)\n")
    }

    @Test("config check accepts the shipped example and prints OK")
    func configCheckOK() async throws {
        let result = try await runRelay(
            ["config", "check", "--config", "examples/relay.yaml"], environment: ["AFFONSO_API_KEY": "sk_test_1"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.hasSuffix("examples/relay.yaml: OK (9 rules, 0 client properties)\n"))
        #expect(!result.standardOutput.contains("sk_test_1"))
    }

    @Test("config check requires what run requires: the variables and the API key")
    func configCheckNeedsTheEnvironment() async throws {
        let result = try await runRelay(["config", "check", "--config", "examples/relay.yaml"], environment: [:])
        #expect(result.status == 2)
        #expect(result.standardError.contains("environment variable 'AFFONSO_API_KEY' is not set"))
    }

    @Test("--version names the relay and librdkafka")
    func version() async throws {
        let result = try await runRelay(["--version"])
        #expect(result.status == 0)
        #expect(result.standardOutput.hasPrefix("affonso-relay 0.1.0 (librdkafka 2."))
    }

    @Test(
        "a bad flag or subcommand: exit 2 with one line that names it",
        arguments: [
            (
                ["rules", "chek", "--config", "relay.yaml"],
                "'affonso-relay rules' has no subcommand 'chek'; did you mean 'check'? choose one of check, test, "
                    + "apply, tap"
            ),
            (["frobnicate"], "'affonso-relay' has no subcommand 'frobnicate'; choose one of run, config, rules"),
            (["rules", "check", "--conf", "relay.yaml"], "Unknown option '--conf'. Did you mean '--config'?"),
            (["run", "--config", "relay.yaml", "--bogus"], "Unknown option '--bogus'"),
        ])
    func badArguments(arguments: [String], expected: String) async throws {
        let result = try await runRelay(arguments)
        #expect(result.status == 2)
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(result.standardError)")
        #expect(lines.first?.hasPrefix("affonso-relay: \(expected)") == true, "\(result.standardError)")
    }
}

struct RelayRun {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// Runs the built binary from the repository root; `environment` replaces the relay's variables (PATH and
/// LD_LIBRARY_PATH are kept).
/// Runs the built binary and waits for it on a thread of its own: a test waiting for a process must not hold one
/// of the few threads of Swift's cooperative pool (on a 2-core machine, tests blocked that way starved other tests'
/// timers and servers, which then failed by timing).
func runRelay(
    _ arguments: [String], environment: [String: String]? = nil, input: String = ""
) async throws -> RelayRun {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(
                with: Result { try runRelaySynchronously(arguments, environment: environment, input: input) })
        }
    }
}

/// ``runRelay(_:environment:input:)`` as a `Result`, for tests that clean up before they check.
func relayResult(
    _ arguments: [String], environment: [String: String]? = nil, input: String = ""
) async -> Result<RelayRun, any Error> {
    do {
        return .success(try await runRelay(arguments, environment: environment, input: input))
    } catch {
        return .failure(error)
    }
}

private func runRelaySynchronously(
    _ arguments: [String], environment: [String: String]?, input: String
) throws -> RelayRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: relayBinary)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
    if let environment {
        let kept = ProcessInfo.processInfo.environment.filter { ["PATH", "LD_LIBRARY_PATH", "HOME"].contains($0.key) }
        process.environment = kept.merging(environment) { $1 }
    }
    // Files, not pipes: Foundation's blocking pipe reads trap on EINTR (a signal reaching the reading thread, as
    // the SIGCHLD of another test's child can), and reading one pipe to its end while the other fills deadlocks.
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "relay-run-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let inputPath = directory.appendingPathComponent("stdin").path
    let outputPath = directory.appendingPathComponent("stdout").path
    let errorPath = directory.appendingPathComponent("stderr").path
    try Data(input.utf8).write(to: URL(fileURLWithPath: inputPath))
    for path in [outputPath, errorPath] {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
    guard let stdin = FileHandle(forReadingAtPath: inputPath),
        let stdout = FileHandle(forWritingAtPath: outputPath),
        let stderr = FileHandle(forWritingAtPath: errorPath)
    else { throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: directory.path]) }
    defer {
        try? stdin.close()
        try? stdout.close()
        try? stderr.close()
    }
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    process.waitUntilExit()
    return RelayRun(
        status: process.terminationStatus,
        standardOutput: String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self),
        standardError: String(decoding: FileManager.default.contents(atPath: errorPath) ?? Data(), as: UTF8.self)
    )
}
