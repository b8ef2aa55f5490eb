import AffonsoSandbox
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two relay processes of one group share the plan (issue 15, `affonso.rate_limit.scope: fleet`): together they
/// pace to the plan the sandbox enforces, with no 429.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayFleetRateLimitTests {
    static let customers = 20
    /// 2 requests/s, burst 4: two processes that each paced to the whole plan would send twice that.
    static let plan = SandboxPlan(name: "fleet-test", requestsPerMinute: 120, burstPerSecond: 4)

    /// `affonso_relay_rate_limit_share` of one process, if it answers.
    static func share(_ process: RelayProcess) async -> Double? {
        let body = await process.get("/metrics")?.body ?? ""
        for line in body.split(separator: "\n") where line.hasPrefix("affonso_relay_rate_limit_share ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test func twoRelayProcessesTogetherPaceToThePlanWithout429s() async throws {
        let relay = try await RelayHarness(
            referrals: (0..<Self.customers).map(referral), partitions: 4, delivery: ["max_in_flight: 16"],
            sandboxPlan: Self.plan, affonso: ["rate_limit: {per_minute: 120, burst: 4, scope: fleet}"])
        let ids = (0..<400).map { "in_fleet_\($0)" }
        try await relay.produceInvoices(ids, inFlight: 64) { "cus_test_\($0 % RelayFleetRateLimitTests.customers)" }
        let first = try RelayProcess(configuration: { relay.configurationText(listen: $0, logLevel: "debug") })
        let second = try RelayProcess(configuration: { relay.configurationText(listen: $0, logLevel: "debug") })

        // Each owns half of the source partitions, so each paces to about half the plan (the share moves a little
        // around its base as the members measure the API's counter).
        let shared = await kafkaEventually(timeout: .seconds(120)) {
            guard let one = await Self.share(first), let other = await Self.share(second) else { return false }
            return (0.3...0.7).contains(one) && (0.3...0.7).contains(other)
        }
        let sharesSeen = (await Self.share(first), await Self.share(second))
        #expect(shared, "both members take about half the plan: \(sharesSeen)")

        // Measured on the test's clock over 30 s, after both members have their share: whatever the group's
        // timing before, the pair now sends about the plan's 2/s.
        let start = ContinuousClock.now
        let acceptedBefore = relay.sandbox.stats.accepted
        try await Task.sleep(for: .seconds(30))
        let accepted = relay.sandbox.stats.accepted - acceptedBefore
        let seconds = (ContinuousClock.now - start).seconds
        let rate = Double(accepted) / seconds
        let rateLimited = relay.sandbox.stats.rateLimited
        let sharesAfter = (await Self.share(first), await Self.share(second))

        // Each member logs its view of the fleet at each change of its share.
        let viewLogged = [first, second].allSatisfy { $0.occurrences(of: "rate-limit share changed") > 0 }
        for process in [first, second] { process.signal(SIGTERM) }
        for process in [first, second] {
            _ = await process.waitForExit(timeout: .seconds(30))
            await process.kill()
        }
        try await relay.stop()

        print(
            "fleet rate-limit test: \(accepted) accepted in \(seconds) s = \(rate)/s of 2/s, \(rateLimited) 429s, "
                + "shares \(sharesSeen) then \(sharesAfter)")
        #expect(rateLimited == 0, "429s from the sandbox: \(rateLimited)")
        #expect(viewLogged, "a debug line 'rate-limit share changed' from each member")
        #expect(rate >= 0.85 * 2 && rate <= 1.05 * 2 + 4.0 / 30, "together \(rate)/s for a plan of 2/s")
        if let one = sharesAfter.0, let other = sharesAfter.1 {
            #expect(one + other <= 1.1, "the shares sum to about 1: \(sharesAfter)")
        }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
