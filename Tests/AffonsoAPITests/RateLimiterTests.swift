import Synchronization
import Testing

@testable import AffonsoAPI

/// Grant times, appended from many tasks.
final class Recorder: Sendable {
    private let storage = Mutex<[Duration]>([])
    var values: [Duration] { storage.withLock { $0 } }
    func record(_ value: Duration) { storage.withLock { $0.append(value) } }
}

@Suite("RateLimiter")
struct RateLimiterTests {
    /// Runs `senders` tasks that acquire forever, driving the manual clock from sleeper to sleeper until
    /// `duration` has passed; returns every grant time.
    static func simulateBacklog(
        limiter: RateLimiter<ManualClock>,
        clock: ManualClock,
        senders: Int,
        duration: Duration
    ) async throws -> [Duration] {
        let grants = Recorder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<senders {
                group.addTask {
                    while true {
                        try await limiter.acquire()
                        grants.record(clock.now.offset)
                    }
                }
            }
            while clock.now.offset < duration {
                try await waitUntilQuiescent(limiter: limiter, clock: clock, waiting: senders)
                clock.advance(to: try #require(clock.nextDeadline))
            }
            group.cancelAll()
            while let result = await group.nextResult() {
                if case .failure(let error) = result { #expect(error is CancellationError) }
            }
        }
        return grants.values.filter { $0 < duration }
    }

    /// Waits until every sender is inside the limiter and exactly one sleeps on the clock: nothing can happen
    /// until the clock moves.
    static func waitUntilQuiescent(limiter: RateLimiter<ManualClock>, clock: ManualClock, waiting: Int) async throws {
        var spins = 0
        while !(limiter.waitingCount == waiting && clock.sleeperCount == 1) {
            spins += 1
            try #require(spins < 1_000_000, "the limiter never settled with one sleeper")
            await Task.yield()
        }
    }

    /// The largest number of grants in any half-open window `[t, t + length)`.
    static func maximumInWindow(_ times: [Duration], length: Duration) -> Int {
        let sorted = times.sorted()
        var best = 0
        var end = 0
        for start in sorted.indices {
            while end < sorted.count && sorted[end] < sorted[start] + length { end += 1 }
            best = max(best, end - start)
        }
        return best
    }

    @Test(
        "a backlog is paced to the plan: never more than per_minute in any 60 s, at least 97% of it each minute",
        arguments: [AffonsoPlan.launch, .growth, .elite, .enterprise]
    )
    func pacesBacklogToPlan(plan: AffonsoPlan) async throws {
        let limit = try #require(plan.rateLimit)
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: limit, clock: clock)
        let grants = try await Self.simulateBacklog(
            limiter: limiter,
            clock: clock,
            senders: 16,
            duration: .seconds(180)
        )

        #expect(Self.maximumInWindow(grants, length: .seconds(60)) <= limit.perMinute)
        #expect(Self.maximumInWindow(grants, length: .seconds(1)) <= limit.burst)
        for minute in 0..<3 {
            let start = Duration.seconds(60 * minute)
            let count = grants.filter { $0 >= start && $0 < start + .seconds(60) }.count
            #expect(Double(count) >= 0.97 * Double(limit.perMinute), "minute \(minute): \(count) grants")
        }
    }

    @Test("an explicit rate_limit overrides the plan")
    func explicitRateLimit() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: RateLimit(perMinute: 120, burst: 1), clock: clock)
        let grants = try await Self.simulateBacklog(limiter: limiter, clock: clock, senders: 4, duration: .seconds(60))
        #expect(grants.count >= 116 && grants.count <= 120)
        // Burst 1: never two grants at the same instant.
        #expect(Set(grants).count == grants.count)
    }

    @Test("a 429 gate pauses every sender until Retry-After, then all proceed")
    func gatePausesEverySender() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: AffonsoPlan.launch.rateLimit, clock: clock)
        limiter.closeGate(for: .seconds(30))
        #expect(limiter.gateRemaining == .seconds(30))

        let granted = Recorder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<5 {
                group.addTask {
                    try await limiter.acquire()
                    granted.record(clock.now.offset)
                }
            }
            try await Self.waitUntilQuiescent(limiter: limiter, clock: clock, waiting: 5)
            clock.advance(to: .init(offset: .seconds(29)))
            try await Self.waitUntilQuiescent(limiter: limiter, clock: clock, waiting: 5)
            #expect(granted.values.isEmpty, "no sender may pass while the gate is closed")

            clock.advance(to: .init(offset: .seconds(30)))
            try await group.waitForAll()
        }
        #expect(granted.values == Array(repeating: .seconds(30), count: 5))
        #expect(limiter.gateRemaining == nil)
    }

    @Test("a longer gate is not shortened by a later, shorter Retry-After")
    func gateKeepsLongestClosure() {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: nil, clock: clock)
        limiter.closeGate(for: .seconds(20))
        limiter.closeGate(for: .seconds(5))
        #expect(limiter.gateRemaining == .seconds(20))
    }

    @Test("X-RateLimit-Remaining running low spreads the rest of the window; zero closes the gate until reset")
    func headerPacing() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: nil, clock: clock)
        try await limiter.acquire()  // the last grant is at 0 s
        limiter.observe(limit: 600, remaining: 2, resetIn: .seconds(10))
        let next = Task { try await limiter.acquire() }
        try await Self.waitUntilQuiescent(limiter: limiter, clock: clock, waiting: 1)
        #expect(clock.nextDeadline?.offset == .seconds(5), "two remaining over 10 s: one every 5 s")
        clock.advance(to: .init(offset: .seconds(5)))
        #expect(try await next.value == .seconds(5))

        let gated = ManualClock()
        let gatedLimiter = RateLimiter(rateLimit: nil, clock: gated)
        gatedLimiter.observe(limit: 600, remaining: 0, resetIn: .seconds(7))
        #expect(gatedLimiter.gateRemaining == .seconds(7))

        let relaxed = ManualClock()
        let relaxedLimiter = RateLimiter(rateLimit: nil, clock: relaxed)
        relaxedLimiter.observe(limit: 600, remaining: 500, resetIn: .seconds(30))
        for _ in 0..<100 { try await relaxedLimiter.acquire() }
        #expect(relaxed.now.offset == .zero, "plenty remaining: no pacing")
    }

    @Test("unlimited grants at once without touching the clock")
    func unlimitedNeverWaits() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: AffonsoPlan.unlimited.rateLimit, clock: clock)
        for _ in 0..<10_000 {
            #expect(try await limiter.acquire() == .zero)
        }
        #expect(clock.sleeperCount == 0)
    }

    @Test("a cancelled waiter leaves the queue; the others still get their slots")
    func cancellationLeavesQueue() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rateLimit: RateLimit(perMinute: 60, burst: 1), clock: clock)
        try await limiter.acquire()  // the bucket is now empty
        let first = Task { try await limiter.acquire() }
        let second = Task { try await limiter.acquire() }
        try await Self.waitUntilQuiescent(limiter: limiter, clock: clock, waiting: 2)

        second.cancel()
        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        await #expect(throws: CancellationError.self) { try await second.value }
        #expect(limiter.waitingCount == 0)

        let third = Task { try await limiter.acquire() }
        try await Self.waitUntilQuiescent(limiter: limiter, clock: clock, waiting: 1)
        clock.advance(by: .seconds(1))
        #expect(try await third.value == .seconds(1))
    }
}
