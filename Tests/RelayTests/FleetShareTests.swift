import AffonsoAPI
import KafkaClient
import Logging
import Testing

@testable import Relay

@Suite("FleetShare")
struct FleetShareTests {
    static let growth = RateLimit(perMinute: 600, burst: 20)

    static func partition(_ topic: String, _ number: Int32) -> PartitionID {
        PartitionID(topic: topic, partition: number)
    }

    static func make(
        scope fleet: Bool = true, grace: Duration = .seconds(10)
    ) -> (FleetShare, RateLimiter<ContinuousClock>) {
        let limiter = RateLimiter(
            rateLimit: growth, clock: ContinuousClock(), fleet: fleet ? FleetRateShare.Configuration() : nil)
        let share = FleetShare(
            sourceTopics: ["orders", "^app\\..*"],
            relayTopics: ["affonso-relay.retry.30s", "affonso-relay.dlq"],
            limiter: limiter,
            revocationGrace: grace,
            metrics: RelayMetrics(),
            logger: Logger(label: "test")
        )
        share.updateTopics([
            .init(name: "orders", partitionCount: 4), .init(name: "app.lifecycle", partitionCount: 2),
            .init(name: "affonso-relay.retry.30s", partitionCount: 3), .init(name: "unrelated", partitionCount: 5),
        ])
        return (share, limiter)
    }

    @Test("source topics are the named ones and the pattern's, never the relay's own")
    func sourceTopics() {
        let (share, _) = Self.make()
        #expect(share.isSourceTopic("orders"))
        #expect(share.isSourceTopic("app.lifecycle"))
        #expect(!share.isSourceTopic("affonso-relay.retry.30s"))
        #expect(!share.isSourceTopic("unrelated"))
        #expect(share.counts().total == 6)
    }

    @Test("before any assignment the limiter keeps the fallback share; an assignment sets owned ÷ all")
    func assignment() {
        let (share, limiter) = Self.make()
        #expect(limiter.share == 1.0 / 6)
        share.rebalanced(
            .assigned([
                Self.partition("orders", 0), Self.partition("orders", 1), Self.partition("app.lifecycle", 0),
                Self.partition("affonso-relay.retry.30s", 0),
            ]))
        #expect(limiter.share == 0.5)
        #expect(limiter.fleetView?.baseShare == 0.5)
    }

    @Test("once every partition is revoked, nothing waits for the rate limit until the next assignment")
    func revokedEverything() async throws {
        let (share, limiter) = Self.make()
        let orders = [Self.partition("orders", 0), Self.partition("orders", 1)]
        share.rebalanced(.assigned(orders + [Self.partition("affonso-relay.retry.30s", 0)]))
        // Part of the assignment revoked (cooperative): requests still wait for their slot.
        share.rebalanced(.revoked([Self.partition("orders", 1)]))
        limiter.closeGate(for: .seconds(60))  // a 429: every request waits
        let waiting = Task { try await limiter.acquire() }
        while limiter.waitingCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        // Everything revoked: the waiting request is refused (its record goes to the partition's next owner).
        share.rebalanced(.revoked([Self.partition("orders", 0), Self.partition("affonso-relay.retry.30s", 0)]))
        await #expect(throws: CancellationError.self) { try await waiting.value }
        await #expect(throws: CancellationError.self) { try await limiter.acquire() }
        // The next assignment: requests wait for their slot again.
        share.rebalanced(.assigned(orders))
        let next = Task { try await limiter.acquire() }
        while limiter.waitingCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        next.cancel()
        await #expect(throws: CancellationError.self) { try await next.value }
    }

    @Test("a revocation applies at the next assignment, or after the grace when none follows")
    func revocation() async throws {
        let (share, limiter) = Self.make(grace: .milliseconds(100))
        share.rebalanced(.assigned([Self.partition("orders", 0), Self.partition("orders", 1)]))
        #expect(abs(limiter.share - 2.0 / 6) < 1e-9)
        share.rebalanced(.revoked([Self.partition("orders", 1)]))
        #expect(abs(limiter.share - 2.0 / 6) < 1e-9, "in-flight requests of the revoked partition drain first")
        share.rebalanced(.assigned([Self.partition("orders", 2), Self.partition("orders", 3)]))
        #expect(abs(limiter.share - 3.0 / 6) < 1e-9)
        // Taken before the revocation, so the grace cannot begin before it, however slowly the machine runs.
        let revokedAt = ContinuousClock.now
        share.rebalanced(.revoked([Self.partition("orders", 2), Self.partition("orders", 3)]))
        // No assignment follows: the revocation applies once the grace has passed (polled, for a loaded machine; in
        // a full run on two loaded cores, the CPU-bound suites beside it kept its task from running for over 30 s).
        while abs(limiter.share - 1.0 / 6) > 1e-9, ContinuousClock.now - revokedAt < .seconds(120) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(ContinuousClock.now - revokedAt >= .milliseconds(100), "not before the grace (100 ms)")
        #expect(abs(limiter.share - 1.0 / 6) < 1e-9)
        #expect(limiter.fleetView?.baseShare.map { abs($0 - 1.0 / 6) < 1e-9 } == true, "base 1 of 6, not the fallback")
    }

    @Test("an owned source topic the metadata does not know makes the share the fallback")
    func unknownTopic() {
        let (share, limiter) = Self.make()
        share.rebalanced(.assigned([Self.partition("orders", 0), Self.partition("app.new", 0)]))
        #expect(limiter.share == 1.0 / 6)
        #expect(limiter.fleetView?.baseShare == nil)
    }

    @Test("a pod-scoped limiter is left alone")
    func podScope() {
        let (share, limiter) = Self.make(scope: false)
        share.rebalanced(.assigned([Self.partition("orders", 0)]))
        #expect(limiter.share == 1)
    }
}
