import AffonsoSandbox
import Foundation
import KafkaClient
import Relay
import Testing

/// How the relay behaves when Affonso misbehaves (SPEC.md §6, AFFONSO_API.md): refused keys, outages, errors.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayFaultTests {
    @Test func refusedKeyStopsDeliveryWithoutDeadLettersUntilTheKeyFileIsFixed() async throws {
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(uniqueName("key")).txt").path
        try "sk_test_wrong".write(toFile: keyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: keyFile) }
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1, apiKeyFile: keyFile) {
            $0.pipeline.credentialsProbeInterval = .seconds(1)
        }
        let ids = (0..<10).map { "in_key_\($0)" }
        try await relay.produceInvoices(ids) { _ in "cus_test_0" }
        try relay.start()
        let refused = await kafkaEventually(timeout: .seconds(30)) {
            relay.sandbox.stats.byStatus[401, default: 0] >= 2
        }
        #expect(refused)
        #expect(!relay.service.isReady, "/readyz must fail while Affonso refuses the key")
        try await Task.sleep(for: .seconds(3))
        #expect(try await relay.committedTotal(partitions: 1) == 0, "no offset may advance while the key is refused")
        try "sk_test_sandbox\n".write(toFile: keyFile, atomically: true, encoding: .utf8)
        let delivered = await kafkaEventually(timeout: .seconds(30)) { relay.sandbox.ledger.count >= 10 }
        #expect(delivered, "everything is delivered once the key file holds a valid key")
        #expect(relay.service.isReady)
        try await relay.stop()
        #expect(Set(relay.sandbox.ledger.compactMap(\.externalEventID)) == Set(ids))
        let letters = try await relay.deadLetters(count: 1, timeout: .seconds(3))
        #expect(letters.isEmpty, "a refused key must never dead-letter")
    }

    @Test func outageStopsFetchingKeepsRetryTopicsSmallAndRecoversByItself() async throws {
        let relay = try await RelayHarness(
            referrals: (0..<8).map(referral), partitions: 2, tiers: ["1s", "2s"], maxAttempts: 8,
            delivery: ["max_in_flight: 8"]
        ) {
            $0.pipeline.outage = OutageDetector.Configuration(
                windowSize: 10, failureRatio: 0.8, initialProbeInterval: .milliseconds(500),
                maximumProbeInterval: .seconds(2))
        }
        var faults = SandboxFaults.none
        faults.outageAfter = .zero
        faults.outageFor = .seconds(30)
        relay.sandbox.setFaults(faults)
        let ids = (0..<200).map { "in_outage_\($0)" }
        try await relay.produceInvoices(ids) { "cus_test_\($0 % 8)" }
        try relay.start()
        let delivered = await kafkaEventually(timeout: .seconds(90)) { relay.sandbox.ledger.count >= 200 }
        try await relay.stop()
        #expect(delivered, "delivery must resume by itself after the outage")
        #expect(Set(relay.sandbox.ledger.compactMap(\.externalEventID)) == Set(ids))
        let retried = try await retryRecordCount(relay)
        #expect(retried <= 8, "at most max_in_flight records may reach retry topics during an outage, got \(retried)")
        #expect(relay.sandbox.stats.byStatus[503, default: 0] < 200, "the relay must probe, not push its backlog")
    }

    @Test func serverErrorsTimeoutsAndRateLimitsLoseNothing() async throws {
        let relay = try await RelayHarness(
            referrals: (0..<16).map(referral), tiers: ["1s", "1500ms"], maxAttempts: 8,
            delivery: ["max_in_flight: 32"]
        ) {
            $0.affonso.timeout = .milliseconds(500)
        }
        var faults = SandboxFaults.none
        faults.errorRate = 0.2
        faults.timeoutRate = 0.05
        faults.timeoutHold = .seconds(1)
        faults.rateLimitNext = 20
        relay.sandbox.setFaults(faults)
        let ids = (0..<300).map { "in_chaos_\($0)" }
        try await relay.produceInvoices(ids) { "cus_test_\($0 % 16)" }
        try relay.start()
        let delivered = await kafkaEventually(timeout: .seconds(120)) {
            Set(relay.sandbox.ledger.compactMap(\.externalEventID)).count >= 300
        }
        try await relay.stop()
        #expect(delivered, "every event must end in the ledger despite 5xx, timeouts and 429s")
        #expect(Set(relay.sandbox.ledger.compactMap(\.externalEventID)) == Set(ids))
        for (committed, end) in try await relay.committedAndEndOffsets() {
            #expect(committed == end)
        }
    }

    @Test func gracefulShutdownHandsOverToTheNextMemberWithoutLoss() async throws {
        let relay = try await RelayHarness(referrals: (0..<4).map(referral), delivery: ["max_in_flight: 16"])
        var faults = SandboxFaults.none
        faults.latency = .milliseconds(200)
        relay.sandbox.setFaults(faults)
        let ids = (0..<200).map { "in_drain_\($0)" }
        try await relay.produceInvoices(ids) { "cus_test_\($0 % 4)" }
        try relay.start()
        _ = await kafkaEventually(timeout: .seconds(30)) { relay.sandbox.ledger.count >= 20 }
        try await relay.stop(keepSandbox: true)
        // No other member may join the group in between: Tansu 0.6 then stalls the group's next rebalance.
        try relay.start()
        let finished = await kafkaEventually(timeout: .seconds(60)) {
            Set(relay.sandbox.ledger.compactMap(\.externalEventID)).count >= 200
        }
        try await relay.stop()
        #expect(finished, "the next member must deliver the rest")
        #expect(Set(relay.sandbox.ledger.compactMap(\.externalEventID)) == Set(ids))
        let replays = relay.sandbox.ledger.reduce(0) { $0 + $1.replays }
        #expect(replays <= 16, "at most max_in_flight events may be sent twice across a graceful hand-over")
        for (committed, end) in try await relay.committedAndEndOffsets() {
            #expect(committed == end)
        }
    }

    /// Records written to the relay's first retry topic (read for a few seconds; every retry passes through it).
    private func retryRecordCount(_ relay: RelayHarness) async throws -> Int {
        try await relay.read(relay.retryTopics[0], count: .max, timeout: .seconds(8)).count
    }
}
