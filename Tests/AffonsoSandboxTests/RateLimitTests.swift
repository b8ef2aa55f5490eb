import Testing

@testable import AffonsoSandbox

@Suite("Rate limits: X-RateLimit-* headers, 429 RATE_LIMIT_EXCEEDED with Retry-After")
struct RateLimitTests {
    @Test func everyResponseCarriesThePlanHeaders() async throws {
        try await RunningSandbox.with {
            $0.plan = .launch
        } _: { sandbox in
            let replies = [
                try await sandbox.event(Body.lead()),
                try await sandbox.event(Body.lead(), key: nil),
                try await sandbox.event("not json"),
            ]
            for reply in replies {
                #expect(reply.intHeader("X-RateLimit-Limit") == 300)
                #expect(reply.intHeader("X-RateLimit-Remaining") != nil)
                let reset = try #require(reply.intHeader("X-RateLimit-Reset"))
                let now = Int(SandboxCore.now())
                #expect(reset > now && reset <= now + 61)
            }
            #expect(replies[0].intHeader("X-RateLimit-Remaining") == 299)
            #expect(replies[2].intHeader("X-RateLimit-Remaining") == 298)
        }
    }

    @Test func burstOverThePlanIsRateLimited() async throws {
        // Sent all at once, so the test does not depend on how fast the machine is: with a bucket of
        // one refilled once a second, all 60 would pass only if serving them took over 59 s, four
        // times the client's timeout. (Sent one after another, a loaded CI machine once took long
        // enough between 20 requests to refill a bucket of 3/s.)
        let plan = SandboxPlan(name: "bursty", requestsPerMinute: 300, burstPerSecond: 1)
        let count = 60
        try await RunningSandbox.with {
            $0.plan = plan
        } _: { sandbox in
            let replies = try await withThrowingTaskGroup(of: SandboxReply.self) { group in
                for _ in 0..<count { group.addTask { try await sandbox.event(Body.lead()) } }
                return try await group.reduce(into: [SandboxReply]()) { $0.append($1) }
            }
            let admitted = replies.filter { $0.status == 200 }.count
            #expect(admitted >= 1)
            #expect(replies.allSatisfy { $0.status == 200 || $0.status == 429 })
            let limited = try #require(replies.first { $0.status == 429 })
            #expect(limited.errorCode == "RATE_LIMIT_EXCEEDED")
            #expect(limited.json["success"] == .bool(false))
            let retryAfter = try #require(limited.intHeader("Retry-After"))
            #expect(retryAfter >= 1)
            #expect(limited.json["error"]["retryAfter"].intValue == retryAfter)
            #expect(limited.intHeader("X-RateLimit-Limit") == 300)
            #expect(sandbox.server.stats.rateLimited == count - admitted)
            #expect(sandbox.server.ledger.count == admitted)
        }
    }

    @Test func theBurstBucketRefillsAtThePlanRate() {
        // The bucket on its own, with the time given: exact, whatever the machine's speed.
        var state = RateLimitState(plan: SandboxPlan(name: "bursty", requestsPerMinute: 300, burstPerSecond: 3))
        let start = 1_000_000.0
        #expect((0..<3).map { state.acquire(now: start + Double($0) * 0.001).allowed } == [true, true, true])
        let limited = state.acquire(now: start + 0.01)
        #expect(!limited.allowed)
        #expect(limited.retryAfter == 1)
        #expect(limited.remaining == 297)
        // A third of a second later one token is back, and only one.
        #expect(state.acquire(now: start + 0.01 + 0.34).allowed)
        #expect(!state.acquire(now: start + 0.36).allowed)
        // A long pause refills to the burst, no further.
        let later = start + 1_000
        #expect((0..<4).map { _ in state.acquire(now: later).allowed } == [true, true, true, false])
    }

    @Test func perMinuteLimitReportsTheWindowReset() async throws {
        let plan = SandboxPlan(name: "tiny", requestsPerMinute: 3, burstPerSecond: 100)
        try await RunningSandbox.with {
            $0.plan = plan
        } _: { sandbox in
            var remaining: [Int] = []
            for _ in 0..<3 {
                let reply = try await sandbox.event(Body.lead())
                #expect(reply.status == 200)
                remaining.append(reply.intHeader("X-RateLimit-Remaining") ?? -1)
            }
            #expect(remaining == [2, 1, 0])
            let limited = try await sandbox.event(Body.lead())
            #expect(limited.status == 429)
            let retryAfter = try #require(limited.intHeader("Retry-After"))
            #expect(retryAfter > 50 && retryAfter <= 60)
            #expect(limited.intHeader("X-RateLimit-Remaining") == 0)
        }
    }

    @Test func unlimitedPlanNeverRateLimits() async throws {
        try await RunningSandbox.with {
            $0.plan = .unlimited
        } _: { sandbox in
            for _ in 0..<30 {
                let reply = try await sandbox.event(Body.lead())
                #expect(reply.status == 200)
            }
            #expect(sandbox.server.stats.rateLimited == 0)
        }
    }

    @Test(arguments: SandboxPlan.all.filter { $0 != .unlimited })
    func documentedPlansHaveTheirLimits(plan: SandboxPlan) {
        let documented = ["launch": (300, 10), "growth": (600, 20), "elite": (1_200, 40), "enterprise": (3_000, 100)]
        let expected = try! #require(documented[plan.name])
        #expect(plan.requestsPerMinute == expected.0)
        #expect(plan.burstPerSecond == expected.1)
        #expect(SandboxPlan.named(plan.name.uppercased()) == plan)
    }
}
