import AffonsoSandbox
import Foundation
import KafkaClient
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Shutdown fits the pod's grace period when the Kafka broker stops answering: its process is frozen (`SIGSTOP`),
/// its TCP connections stay open and silent, so every commit, heartbeat and leave waits for an answer that never
/// comes. Each test freezes a Tansu broker of its own, never the stack's.
@Suite(
    .enabled(
        if: FileManager.default.isExecutableFile(atPath: PrivateTansu.executable),
        "\(PrivateTansu.executable) is missing: run scripts/setup (or `make test`)"),
    .serialized
)
struct RelayBrokerStallTests {
    /// `server.shutdown_grace` of the relays under test.
    static let grace = Duration.seconds(6)
    /// How long SIGTERM to exit may take: the grace plus a margin for a slow, shared machine. A relay that waits
    /// for librdkafka's request timeouts (`socket.timeout.ms`, 60 s) takes far longer.
    static let exitBound = Duration.seconds(15)

    /// Everything read was delivered and committed; then the broker freezes and the relay gets SIGTERM. The
    /// leave and the final commit get no answer, yet the relay exits within the grace plus the margin.
    @Test func sigtermWhileTheBrokerIsFrozenExitsWithinTheShutdownGrace() async throws {
        let tansu = try await PrivateTansu.start()
        defer { tansu.stop() }
        let relay = try await RelayHarness(referrals: (0..<5).map(referral), partitions: 1, brokers: [tansu.address])
        let process = try Self.relayProcess(relay)
        defer { process.signal(SIGKILL) }
        #expect(await RelayProcessOperationsTests.ready(process, true))
        try await relay.produceInvoices((0..<5).map { "in_frozen_\($0)" }) { "cus_test_\($0)" }
        let committed = await kafkaEventually(timeout: .seconds(30)) {
            let total = try? await relay.committedTotal(partitions: 1)
            return relay.sandbox.stats.accepted == 5 && total == 5
        }
        try #require(committed, "the five events are delivered and committed before the broker freezes")

        tansu.freeze()
        await Self.expectExitWithinGrace(process, thawing: tansu)
        #expect(try await relay.committedTotal(partitions: 1) == 5, "the commit before the freeze stays")
        try await relay.stop()
    }

    /// Events are in flight when the broker freezes; Affonso acknowledges them while it is frozen, so the relay
    /// stores their offsets and its commit waits for the broker. Then SIGTERM: the relay still exits within the
    /// grace plus the margin, and commits nothing it did not deliver.
    @Test func brokerFreezesWhileEventsAreInFlightThenSigtermExitsWithinTheShutdownGrace() async throws {
        let tansu = try await PrivateTansu.start()
        defer { tansu.stop() }
        let relay = try await RelayHarness(referrals: (0..<15).map(referral), partitions: 1, brokers: [tansu.address])
        let process = try Self.relayProcess(relay, apiTimeout: "30s")
        defer { process.signal(SIGKILL) }
        try await Self.deliverFiveThenHold(
            (5..<15).map { "in_stall_\($0)" }, customers: { "cus_test_\($0)" }, latency: .seconds(4), relay, process)
        tansu.freeze()
        let acknowledged = await kafkaEventually(timeout: .seconds(20)) { relay.sandbox.stats.accepted == 15 }
        #expect(acknowledged, "Affonso acknowledged the ten while the broker is frozen")
        // The relay stores their offsets and starts committing them: that commit gets no answer.
        try await Task.sleep(for: .milliseconds(500))

        await Self.expectExitWithinGrace(process, thawing: tansu)
        let total = try await relay.committedTotal(partitions: 1)
        #expect((5...15).contains(total), "committed \(total): at least the first five, at most what was delivered")
        try await relay.stop()
    }

    /// Events fail while the broker is frozen (unknown customers: 404, so each goes to a retry tier), and their
    /// retry records cannot be written. Then SIGTERM: the drain, the close and the producer's flush share the
    /// grace, so the whole shutdown still ends within it (the close ends half the reserve before the deadline and
    /// the flush gets what is left), and nothing that failed is committed: the next owner reads it again.
    @Test func retryWritesStuckInTheProducerStillEndWithinTheShutdownGrace() async throws {
        let grace = Duration.seconds(20)
        let tansu = try await PrivateTansu.start()
        defer { tansu.stop() }
        let relay = try await RelayHarness(referrals: (0..<5).map(referral), partitions: 1, brokers: [tansu.address])
        let process = try Self.relayProcess(relay, apiTimeout: "30s", grace: grace)
        defer { process.signal(SIGKILL) }
        try await Self.deliverFiveThenHold(
            (5..<10).map { "in_stuck_\($0)" }, customers: { "cus_nobody_\($0)" }, latency: .seconds(3), relay, process)
        tansu.freeze()
        let answered = await kafkaEventually(timeout: .seconds(20)) {
            let series = #"affonso_relay_api_responses_total{status="404"}"#
            return RelayProcessOperationsTests.value(await RelayProcessOperationsTests.metrics(process), series) == 5
        }
        #expect(answered, "Affonso answered the five 404 while the broker is frozen\n\(Self.tail(process))")

        await Self.expectExitWithinGrace(process, thawing: tansu, grace: grace, bound: grace + .seconds(3))
        #expect(try await relay.committedTotal(partitions: 1) == 5, "nothing that failed is committed")
        try await relay.stop()
    }

    /// Waits until `process` is ready, delivers five events (committed), then makes the API answer after `latency`
    /// and produces `ids` (for `customers` of their index): they are all in flight when this returns.
    static func deliverFiveThenHold(
        _ ids: [String], customers: @escaping @Sendable (Int) -> String, latency: Duration,
        _ relay: RelayHarness, _ process: RelayProcess
    ) async throws {
        #expect(await RelayProcessOperationsTests.ready(process, true))
        try await relay.produceInvoices((0..<5).map { "in_first_\($0)" }) { "cus_test_\($0)" }
        let committed = await kafkaEventually(timeout: .seconds(30)) {
            (try? await relay.committedTotal(partitions: 1)) == 5
        }
        try #require(committed, "the first five events are delivered and committed")
        var faults = SandboxFaults()
        faults.latency = latency
        relay.sandbox.setFaults(faults)
        try await relay.produceInvoices(ids, customer: customers)
        let inFlight = await kafkaEventually(timeout: .seconds(20)) {
            RelayProcessOperationsTests.value(
                await RelayProcessOperationsTests.metrics(process), "affonso_relay_in_flight") == Double(ids.count)
        }
        try #require(inFlight, "\(ids.count) events are in flight, waiting for the API")
    }

    /// A relay process of `relay`'s configuration with a shutdown grace (the tests' unless given) and `apiTimeout`
    /// for requests.
    static func relayProcess(
        _ relay: RelayHarness, apiTimeout: String? = nil, grace: Duration = Self.grace
    ) throws -> RelayProcess {
        try RelayProcess(configuration: {
            let text = relay.configurationText(
                listen: $0, logFormat: "json", shutdownGrace: "\(grace.components.seconds)s")
            guard let apiTimeout else { return text }
            return text.replacing("  timeout: 2s", with: "  timeout: \(apiTimeout)")
        })
    }

    /// Sends SIGTERM and waits (up to a minute, to measure a hang) for the exit, then thaws the broker and expects
    /// the exit status 0 within `bound` (``exitBound`` unless given).
    static func expectExitWithinGrace(
        _ process: RelayProcess,
        thawing tansu: PrivateTansu,
        grace: Duration = Self.grace,
        bound: Duration = Self.exitBound,
        test: String = #function
    ) async {
        let signalled = ContinuousClock.now
        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: .seconds(60))
        let took = ContinuousClock.now - signalled
        print("broker stall test \(test): SIGTERM to exit took \(took), exit status \(String(describing: status))")
        tansu.thaw()
        await process.kill()
        #expect(status == 0, "exit status \(String(describing: status))\n\(tail(process))")
        #expect(took <= bound, "SIGTERM to exit took \(took); the grace is \(grace)\n\(tail(process))")
    }

    /// The relay's last log lines, for a failure message.
    static func tail(_ process: RelayProcess) -> String {
        "last log lines:\n" + process.log.split(separator: "\n").suffix(15).joined(separator: "\n")
    }
}

/// A Tansu broker of a test's own: in memory, on a free port, and frozen (`SIGSTOP`) or thawed on demand.
final class PrivateTansu: Sendable {
    /// The broker `scripts/setup` installs.
    static let executable = RelayProcess.packageRoot + "/.tools/bin/tansu"

    /// `host:port` to give clients.
    let address: String
    let logPath: String
    private let process: Mutex<Process>

    private init(address: String, logPath: String, process: Process) {
        self.address = address
        self.logPath = logPath
        self.process = Mutex(process)
    }

    /// Starts the broker and waits until it answers a metadata request.
    /// - Throws: when it does not start or answer within 30 s (the message holds its log).
    static func start() async throws -> PrivateTansu {
        let address = "127.0.0.1:\(freeTCPPort())"
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("tansu")).path + ".log"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "broker", "--listener-url", "tcp://\(address)", "--advertised-listener-url", "tcp://\(address)",
            "--storage-engine", "memory://tansu/",
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(["RUST_LOG": "warn"]) { $1 }
        guard FileManager.default.createFile(atPath: logPath, contents: nil),
            let log = FileHandle(forWritingAtPath: logPath)
        else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: logPath]) }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let tansu = PrivateTansu(address: address, logPath: logPath, process: process)
        do {
            let admin = try KafkaAdmin(bootstrapServers: [address], logger: kafkaTestLogger)
            do {
                try await admin.waitForBroker(timeout: .seconds(30))
            } catch {
                await admin.close()
                throw error
            }
            await admin.close()
        } catch {
            tansu.stop()
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw KafkaError(code: .timeout, message: "the test's own Tansu at \(address) did not answer: \(log)")
        }
        return tansu
    }

    /// Freezes the broker: its connections stay open, nothing answers.
    func freeze() { send(SIGSTOP) }

    /// Lets a frozen broker go on.
    func thaw() { send(SIGCONT) }

    /// Thaws and kills the broker and waits for its exit (at most 10 s). Idempotent.
    func stop() {
        send(SIGCONT)
        send(SIGKILL)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.withLock({ $0.isRunning }), ContinuousClock.now < deadline { usleep(10_000) }
    }

    private func send(_ signal: Int32) {
        process.withLock { process in
            if process.isRunning { _ = Glibc.kill(process.processIdentifier, signal) }
        }
    }
}
