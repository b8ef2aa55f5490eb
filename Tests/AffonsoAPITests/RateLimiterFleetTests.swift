import Synchronization
import Testing

@testable import AffonsoAPI

@Suite("RateLimiter fleet scope")
struct RateLimiterFleetTests {
    static let plan = RateLimit(perMinute: 600, burst: 20)

    @Test("a fleet-scoped limiter paces to its share of the rate and of the burst")
    func pacesToShare() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: Self.plan, clock: clock, fleet: FleetRateShare.Configuration())
        limiter.setShare(1.0 / 3)
        #expect(limiter.share == 1.0 / 3)
        let grants = try await RateLimiterTests.simulateBacklog(
            limiter: limiter, clock: clock, senders: 8, duration: .seconds(60))
        // A third of 600/min is 200 a minute; the bucket starts with a sixth of the burst (no fleet information).
        #expect((195...206).contains(grants.count), "\(grants.count) grants")
        #expect(RateLimiterTests.maximumInWindow(grants, length: .seconds(1)) <= 6 + 4)
    }

    @Test("before any assignment the limiter bursts only the fallback share")
    func startupBurst() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: Self.plan, clock: clock, fleet: FleetRateShare.Configuration())
        let grants = try await RateLimiterTests.simulateBacklog(
            limiter: limiter, clock: clock, senders: 4, duration: .seconds(1))
        // 20 / 6 = 3 at once, then 10/s ÷ 6.
        #expect(grants.count <= 3 + 2, "\(grants.count) grants in the first second")
    }

    @Test("while waits are refused, waiting senders get CancellationError and no new one waits; then pacing resumes")
    func refusedWaits() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: Self.plan, clock: clock, fleet: FleetRateShare.Configuration())
        limiter.setShare(0.5)
        // Spend the bucket (a sixth of the burst from the start, no time passes to refill it): the next senders wait.
        for _ in 0..<3 { try await limiter.acquire() }
        let refused = Recorder()
        let senders = (0..<4).map { _ in
            Task {
                do { try await limiter.acquire() } catch { refused.record(.zero) }
            }
        }
        try await RateLimiterTests.waitUntilQuiescent(limiter: limiter, clock: clock, waiting: 4)
        limiter.refuseWaiting(true)
        // The queued three end at once; the sleeping first one when it wakes (or gets its slot).
        clock.advance(to: try #require(clock.nextDeadline))
        for sender in senders { _ = await sender.result }
        #expect(limiter.waitingCount == 0)
        #expect(refused.values.count >= 3, "\(refused.values.count) of 4 waiting senders refused")
        // A new sender that would have to wait (here for a 429's gate) does not.
        limiter.closeGate(for: .seconds(5))
        await #expect(throws: CancellationError.self) { try await limiter.acquire() }
        // After the next assignment, senders wait for their slot again.
        limiter.refuseWaiting(false)
        let later = Task { try await limiter.acquire() }
        try await RateLimiterTests.waitUntilQuiescent(limiter: limiter, clock: clock, waiting: 1)
        clock.advance(by: .seconds(10))  // past the gate
        _ = try await later.value
    }

    @Test("catching up raises the rate above the plan's, never the burst above the plan's")
    func catchingUpKeepsTheBurst() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: Self.plan, clock: clock, fleet: FleetRateShare.Configuration())
        limiter.setShare(1)
        // The window began 20 s ago and the group used 200 of it; then 3 s of silence (a rebalance), then this
        // member's responses at 15/s: the group is behind, so the member may send faster than the plan's 10/s.
        var consumed = 200
        func read(resetIn seconds: Double) {
            limiter.observe(limit: 600, remaining: 600 - consumed, resetIn: .seconds(seconds), window: 11)
        }
        read(resetIn: 40)
        clock.advance(by: .seconds(3))
        for step in 0..<17 {
            consumed += 1
            clock.advance(by: .milliseconds(66))
            read(resetIn: 37 - 0.066 * Double(step + 1))
        }
        #expect(limiter.share > 1, "\(String(describing: limiter.fleetView))")
        #expect(limiter.share <= 1.5)
        // A second idle refills the bucket: what goes at once is the plan's burst of 20, not 1.5 times it
        // (the per-second window then holds the rest of the second).
        clock.advance(by: .seconds(1))
        let grants = try await RateLimiterTests.simulateBacklog(
            limiter: limiter, clock: clock, senders: 30, duration: clock.now.offset + .seconds(1))
        #expect(RateLimiterTests.maximumInWindow(grants, length: .milliseconds(10)) <= 20)
        #expect(grants.count >= 20, "\(grants.count) grants in 1 s")
    }

    @Test("pod scope keeps the whole limit and ignores shares")
    func podScope() {
        let limiter = RateLimiter(rateLimit: Self.plan, clock: ManualClock())
        limiter.setShare(0.25)
        #expect(!limiter.isFleetScoped)
        #expect(limiter.share == 1)
        #expect(limiter.fleetView == nil)
    }

    @Test("each change of the share reaches the observer with the fleet's view")
    func observer() {
        let limiter = RateLimiter(rateLimit: Self.plan, clock: ManualClock(), fleet: FleetRateShare.Configuration())
        let views = Mutex<[FleetRateShare<ManualClock.Instant>.View]>([])
        limiter.onShareChange { view in views.withLock { $0.append(view) } }
        limiter.setShare(0.5)
        limiter.setShare(nil)
        let seen = views.withLock { $0 }
        #expect(seen.map(\.share) == [0.5, 1.0 / 6])
        #expect(seen.first?.baseShare == 0.5)
        #expect(seen.last?.description.contains("fallback") == true)
    }

    @Test("header pacing spreads only this member's share of what remains")
    func headerPacingShare() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: Self.plan, clock: clock, fleet: FleetRateShare.Configuration())
        limiter.setShare(0.5)
        // 20 remaining in 10 s: this member may send 10 of them, one per second.
        limiter.observe(limit: 600, remaining: 20, resetIn: .seconds(10), window: 7)
        let grants = try await RateLimiterTests.simulateBacklog(
            limiter: limiter, clock: clock, senders: 2, duration: .seconds(10))
        #expect((9...11).contains(grants.count), "\(grants.count) grants")
    }
}
