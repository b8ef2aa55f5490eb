import HummingbirdTesting
import Testing

@testable import AffonsoSandbox

@Suite("Fault injection: flags (configuration) and POST /_sandbox/faults")
struct FaultInjectionTests {
    @Test func errorRateFromConfigurationAnswers500() async throws {
        try await RunningSandbox.with {
            $0.faults.errorRate = 1
        } _: { sandbox in
            let reply = try await sandbox.event(Body.conversion())
            #expect(reply.status == 500)
            #expect(reply.errorCode == "INTERNAL_ERROR")
            #expect(reply.json["success"] == .bool(false))
            #expect(reply.header("X-RateLimit-Limit") != nil)
            #expect(sandbox.server.ledger.isEmpty)
            #expect(sandbox.server.stats.faultsInjected["error"] == 1)
        }
    }

    @Test func errorRateSetAtRunTime() async throws {
        try await RunningSandbox.with { sandbox in
            #expect(try await sandbox.event(Body.lead()).status == 200)
            let set = try await sandbox.post("/_sandbox/faults", #"{"error_rate":1}"#)
            #expect(set.status == 200)
            #expect(set.json["error_rate"] == .number(1))
            #expect(try await sandbox.event(Body.lead()).status == 500)
            _ = try await sandbox.post("/_sandbox/faults", #"{"error_rate":0}"#)
            #expect(try await sandbox.event(Body.lead()).status == 200)
        }
    }

    @Test func timeoutHoldsTheRequestPastTheClientTimeout() async throws {
        try await RunningSandbox.with {
            $0.faults.timeoutRate = 1
            $0.faults.timeoutHold = .seconds(2)
        } _: { sandbox in
            await #expect(throws: TestClient.Error.readTimeout) {
                _ = try await sandbox.event(Body.lead(), timeout: .milliseconds(300))
            }
        }
    }

    @Test func timeoutEndsWith504AfterTheHold() async throws {
        try await RunningSandbox.with { sandbox in
            _ = try await sandbox.post("/_sandbox/faults", #"{"timeout_rate":1,"timeout_hold_ms":200}"#)
            let clock = ContinuousClock()
            let start = clock.now
            let reply = try await sandbox.event(Body.lead())
            #expect(clock.now - start >= .milliseconds(200))
            #expect(reply.status == 504)
            #expect(reply.errorCode == "INTERNAL_ERROR")
            #expect(sandbox.server.stats.faultsInjected["timeout"] == 1)
            #expect(sandbox.server.ledger.isEmpty)
        }
    }

    @Test func latencyDelaysEveryResponse() async throws {
        try await RunningSandbox.with {
            $0.faults.latency = .milliseconds(150)
            $0.faults.latencyJitter = .milliseconds(20)
        } _: { sandbox in
            let clock = ContinuousClock()
            let start = clock.now
            let reply = try await sandbox.event(Body.lead())
            #expect(clock.now - start >= .milliseconds(130))
            #expect(reply.status == 200)
            #expect(sandbox.server.ledger.count == 1)
        }
    }

    @Test func rateLimitBurstAnswersTheNextRequests429() async throws {
        try await RunningSandbox.with { sandbox in
            _ = try await sandbox.post("/_sandbox/faults", #"{"rate_limit_next":2,"rate_limit_retry_after_ms":3000}"#)
            for _ in 0..<2 {
                let reply = try await sandbox.event(Body.lead())
                #expect(reply.status == 429)
                #expect(reply.errorCode == "RATE_LIMIT_EXCEEDED")
                #expect(reply.header("Retry-After") == "3")
                #expect(reply.json["error"]["retryAfter"] == .number(3))
            }
            #expect(try await sandbox.event(Body.lead()).status == 200)
            #expect(sandbox.server.stats.rateLimited == 2)
        }
    }

    @Test func rateLimitWindowAnswers429UntilItEnds() async throws {
        let started = ContinuousClock.now
        try await RunningSandbox.with {
            // Far longer than the test takes, even when CPU-bound suites hold both threads of a 2-core machine's
            // cooperative pool for half a minute (seen: the first request came 30 s after the start and got 200).
            $0.faults.rateLimitFor = .seconds(600)
        } _: { sandbox in
            let reply = try await sandbox.event(Body.lead())
            let elapsed = Int((ContinuousClock.now - started).components.seconds)
            #expect(reply.status == 429)
            let retryAfter = try #require(reply.intHeader("Retry-After"))
            // The rest of the window, however long the machine took to get here.
            #expect(
                retryAfter >= 600 - elapsed - 1 && retryAfter <= 600, "Retry-After \(retryAfter) after \(elapsed) s")
            let faults = try await sandbox.get("/_sandbox/faults")
            #expect(faults.json["rate_limit_window_active"] == .bool(true))
        }
    }

    @Test func outageAnswers503AndCanBeCleared() async throws {
        try await RunningSandbox.with { sandbox in
            let set = try await sandbox.post("/_sandbox/faults", #"{"outage_after_ms":0,"outage_for_ms":60000}"#)
            #expect(set.json["outage_active"] == .bool(true))
            let reply = try await sandbox.event(Body.lead())
            #expect(reply.status == 503)
            #expect(reply.errorCode == "INTERNAL_ERROR")
            #expect(sandbox.server.stats.faultsInjected["outage"] == 1)
            _ = try await sandbox.post("/_sandbox/faults", #"{"clear":true}"#)
            #expect(try await sandbox.event(Body.lead()).status == 200)
        }
    }

    @Test func outageStartsAfterItsDelay() async throws {
        try await RunningSandbox.with { sandbox in
            let setting = ContinuousClock.now
            _ = try await sandbox.post("/_sandbox/faults", #"{"outage_after_ms":1000,"outage_for_ms":60000}"#)
            let before = try await sandbox.event(Body.lead())
            // The delay counts from when the sandbox set the faults (after `setting`), and the event came before now:
            // when that is less than the delay, the outage had not begun. A loaded machine may take longer; then this
            // run proves less, never a false failure.
            if setting.duration(to: .now) < .seconds(1) {
                #expect(before.status == 200, "the outage started before its delay")
            }
            // The event was answered after the faults were set: 1.2 s later, the outage has begun.
            try await Task.sleep(for: .milliseconds(1200))
            let during = try await sandbox.event(Body.lead())
            #expect(during.status == 503)
        }
    }

    @Test func outageFromConfigurationStartsWithTheServer() async throws {
        try await RunningSandbox.with {
            $0.faults.outageAfter = .zero
            $0.faults.outageFor = .seconds(60)
        } _: { sandbox in
            let reply = try await sandbox.event(Body.lead())
            #expect(reply.status == 503)
        }
    }

    @Test func getFaultsShowsTheCurrentSettings() async throws {
        try await RunningSandbox.with { sandbox in
            _ = try await sandbox.post(
                "/_sandbox/faults",
                #"{"error_rate":0.25,"timeout_rate":0.1,"latency_ms":50,"latency_jitter_ms":10}"#
            )
            let faults = try await sandbox.get("/_sandbox/faults")
            #expect(faults.status == 200)
            #expect(faults.json["error_rate"] == .number(0.25))
            #expect(faults.json["timeout_rate"] == .number(0.1))
            #expect(faults.json["latency_ms"] == .number(50))
            #expect(faults.json["latency_jitter_ms"] == .number(10))
            #expect(faults.json["outage_active"] == .bool(false))
        }
    }

    @Test(arguments: [
        (#"{"error_rate":2}"#, "error_rate"),
        (#"{"latency":5}"#, "unknown fault setting `latency`"),
        (#"{"rate_limit_next":1.5}"#, "whole number"),
        (#"[1]"#, "JSON object"),
    ])
    func invalidFaultSettingsAreRejected(body: String, mentions: String) async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.post("/_sandbox/faults", body)
            #expect(reply.status == 400)
            #expect(reply.errorCode == "VALIDATION_ERROR")
            #expect(reply.errorMessage.contains(mentions), "message: \(reply.errorMessage)")
        }
    }
}
