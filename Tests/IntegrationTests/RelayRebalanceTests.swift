import AffonsoSandbox
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A KEDA-style scale-up and scale-down while fetching is paused for backpressure.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayRebalanceTests {
    /// Under a slow API the first member has paused its partitions for backpressure when a second member joins
    /// and later leaves (two eager rebalances). The member that stays must drain everything to the end: it used
    /// to get its partitions back still paused by the consumer's memory, which the relay had forgotten, and
    /// deliver nothing more.
    @Test func theMemberThatStaysDrainsAfterAnotherJoinsAndLeavesWhilePaused() async throws {
        let customers = 40
        let relay = try await RelayHarness(
            referrals: (0..<customers).map(referral), partitions: 4, delivery: ["max_in_flight: 16"])
        var faults = SandboxFaults.none
        faults.latency = .milliseconds(50)
        relay.sandbox.setFaults(faults)
        let ids = (0..<4_000).map { "in_scale_\($0)" }
        try await relay.produceInvoices(ids, inFlight: 64) { "cus_test_\($0 % customers)" }

        func start() throws -> RelayProcess { try RelayProcess(configuration: { relay.configurationText(listen: $0) }) }
        @Sendable func sourcePartitions(_ process: RelayProcess) -> Int {
            guard let line = process.log.split(separator: "\n").last(where: { $0.contains("partitions assigned") })
            else { return 0 }
            return line.components(separatedBy: relay.source + "[").count - 1
        }
        let stays = try start()
        #expect(await kafkaEventually(timeout: .seconds(60)) { sourcePartitions(stays) == 4 })
        // A backlog of 4,000 behind 16 requests of 50 ms: more than 1,024 buffered, so fetching pauses.
        #expect(await kafkaEventually(timeout: .seconds(60)) { relay.sandbox.stats.accepted >= 100 })
        let joins = try start()
        #expect(
            await kafkaEventually(timeout: .seconds(60)) {
                sourcePartitions(stays) == 2 && sourcePartitions(joins) == 2
            },
            "source partitions: \(sourcePartitions(stays)) and \(sourcePartitions(joins))")
        try await Task.sleep(for: .seconds(2))
        joins.signal(SIGTERM)
        let joinerStatus = await joins.waitForExit(timeout: .seconds(30))
        #expect(await kafkaEventually(timeout: .seconds(60)) { sourcePartitions(stays) == 4 })
        let atRebalance = relay.sandbox.stats.accepted
        let drained = await kafkaEventually(timeout: .seconds(120)) { relay.sandbox.stats.accepted >= ids.count }
        stays.signal(SIGTERM)
        let stayerStatus = await stays.waitForExit(timeout: .seconds(30))
        await joins.kill()
        await stays.kill()
        try await relay.stop()

        let ledger = Set(relay.sandbox.ledger.compactMap(\.externalEventID))
        let missing = Set(ids).subtracting(ledger)
        #expect(
            drained,
            "the member that stayed delivered \(relay.sandbox.stats.accepted - atRebalance) after the rebalance; \(missing.count) of \(ids.count) never delivered"
        )
        #expect(missing.count == 0, "e.g. \(missing.sorted().prefix(5))")
        #expect([joinerStatus, stayerStatus] == [0, 0], "each relay leaves cleanly on SIGTERM")
    }
}
