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
        // A small burst keeps the test independent of machine speed: 20 requests would have to take
        // over 5 s to stay under 3/s.
        let plan = SandboxPlan(name: "bursty", requestsPerMinute: 300, burstPerSecond: 3)
        try await RunningSandbox.with {
            $0.plan = plan
        } _: { sandbox in
            var replies: [SandboxReply] = []
            for _ in 0..<20 { replies.append(try await sandbox.event(Body.lead())) }
            let limited = try #require(replies.first { $0.status == 429 })
            #expect(replies.prefix(3).allSatisfy { $0.status == 200 })
            #expect(limited.errorCode == "RATE_LIMIT_EXCEEDED")
            #expect(limited.json["success"] == .bool(false))
            let retryAfter = try #require(limited.intHeader("Retry-After"))
            #expect(retryAfter >= 1)
            #expect(limited.json["error"]["retryAfter"].intValue == retryAfter)
            #expect(limited.intHeader("X-RateLimit-Limit") == 300)
            #expect(sandbox.server.stats.rateLimited >= 1)
            #expect(sandbox.server.ledger.count == replies.filter { $0.status == 200 }.count)
            #expect(sandbox.server.ledger.count < 20)
        }
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
