import AffonsoSandbox
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Shutdown fits the pod's grace period, whatever the API does.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayShutdownTests {
    /// The API hangs (no answer for a minute, request timeout 60 s) while five events are in flight. SIGTERM: the
    /// drain, commit, flush and close together end within `server.shutdown_grace` (6 s here) plus a margin, so
    /// Kubernetes never has to SIGKILL the pod, and nothing that was not acknowledged is committed.
    @Test func sigtermWhileTheAPIHangsExitsWithinTheShutdownGrace() async throws {
        let relay = try await RelayHarness(referrals: (0..<5).map(referral), partitions: 1)
        let process = try RelayProcess(configuration: {
            relay.configurationText(listen: $0, logFormat: "json", shutdownGrace: "6s")
                .replacing("  timeout: 2s", with: "  timeout: 60s")
        })
        #expect(await RelayProcessOperationsTests.ready(process, true))
        var faults = SandboxFaults()
        faults.latency = .seconds(60)
        relay.sandbox.setFaults(faults)
        let ids = (0..<5).map { "in_hang_\($0)" }
        try await relay.produceInvoices(ids) { "cus_test_\($0)" }
        let inFlight = await kafkaEventually(timeout: .seconds(20)) {
            RelayProcessOperationsTests.value(
                await RelayProcessOperationsTests.metrics(process), "affonso_relay_in_flight") == 5
        }
        #expect(inFlight, "the five events are in flight, waiting for the API")

        let signalled = ContinuousClock.now
        process.signal(SIGTERM)
        let status = await process.waitForExit(timeout: .seconds(30))
        let took = ContinuousClock.now - signalled
        await process.kill()
        try await relay.stop()
        #expect(status == 0, "exit status \(String(describing: status))")
        #expect(took <= .seconds(11), "SIGTERM to exit took \(took); the grace is 6 s")
        #expect(relay.sandbox.stats.accepted == 0)
        #expect(try await relay.committedTotal(partitions: 1) == 0, "nothing acknowledged, nothing committed")
    }
}
