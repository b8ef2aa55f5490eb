import Testing

@testable import AffonsoSandbox

@Suite("Control endpoints: ledger, stats, referrals, reset")
struct ControlEndpointTests {
    @Test func ledgerListsAcceptedEventsDeduplicatedWithReplayCounts() async throws {
        try await RunningSandbox.with { sandbox in
            _ = try await sandbox.event(Body.trial(id: "evt_t1"))
            _ = try await sandbox.event(Body.conversion(id: "in_1"))
            _ = try await sandbox.event(Body.conversion(id: "in_1"))
            _ = try await sandbox.event(Body.conversion(id: "in_1"))
            _ = try await sandbox.event(Body.lead(#""customer_id":"cus_nobody""#))
            let ledger = try await sandbox.get("/_sandbox/ledger")
            #expect(ledger.status == 200)
            #expect(ledger.json["count"] == .number(2))
            #expect(ledger.json["replays"] == .number(2))
            let entries = ledger.json["entries"].arrayValue
            #expect(entries.count == 2)
            #expect(entries[0]["external_event_id"] == .string("evt_t1"))
            #expect(entries[0]["referral_status"] == .string("trialing"))
            #expect(entries[0]["replays"] == .number(0))
            #expect(entries[1]["external_event_id"] == .string("in_1"))
            #expect(entries[1]["event_type"] == .string("conversion"))
            #expect(entries[1]["commission_amount"] == .number(29.7))
            #expect(entries[1]["replays"] == .number(2))
            let last = try await sandbox.get("/_sandbox/ledger?limit=1")
            #expect(last.json["entries"].arrayValue.count == 1)
            #expect(last.json["entries"][0]["external_event_id"] == .string("in_1"))
        }
    }

    @Test func statsCountByStatusEventTypeReplaysAndRateLimits() async throws {
        try await RunningSandbox.with { sandbox in
            _ = try await sandbox.event(Body.lead())
            _ = try await sandbox.event(Body.trial())
            _ = try await sandbox.event(Body.trial())
            _ = try await sandbox.event(Body.conversion())
            _ = try await sandbox.event(Body.lead(), key: nil)
            _ = try await sandbox.event(Body.lead(#""click_id":"clk_none""#))
            _ = try await sandbox.post("/_sandbox/faults", #"{"rate_limit_next":1}"#)
            _ = try await sandbox.event(Body.lead())
            let stats = try await sandbox.get("/_sandbox/stats")
            #expect(stats.status == 200)
            let json = stats.json
            #expect(json["requests"] == .number(7))
            #expect(json["by_status"]["200"] == .number(4))
            #expect(json["by_status"]["401"] == .number(1))
            #expect(json["by_status"]["404"] == .number(1))
            #expect(json["by_status"]["429"] == .number(1))
            #expect(json["by_event_type"]["lead"] == .number(1))
            #expect(json["by_event_type"]["trial"] == .number(1))
            #expect(json["by_event_type"]["conversion"] == .number(1))
            #expect(json["accepted"] == .number(3))
            #expect(json["replays"] == .number(1))
            #expect(json["rate_limited"] == .number(1))
            #expect(json["commissions"] == .number(1))
            #expect(json["faults_injected"]["rate_limit"] == .number(1))
        }
    }

    @Test func referralsCanBeAddedAtRunTime() async throws {
        try await RunningSandbox.with { sandbox in
            let added = try await sandbox.post(
                "/_sandbox/referrals",
                #"[{"id":"ref_new","affiliate_id":"aff_x","external_user_id":"usr_new","status":"trialing"}]"#
            )
            #expect(added.status == 201)
            #expect(added.json["referrals"][0]["id"] == .string("ref_new"))
            let reply = try await sandbox.event(Body.conversion(#""external_user_id":"usr_new""#, id: "in_new"))
            #expect(reply.status == 200)
            #expect(reply.data["affiliate_id"] == .string("aff_x"))
            let list = try await sandbox.get("/_sandbox/referrals")
            let entry = list.json["referrals"].arrayValue.first { $0["id"] == .string("ref_new") }
            #expect(entry?["status"] == .string("customer"))
        }
    }

    @Test(arguments: [
        (#"{"id":"ref_lead","affiliate_id":"aff_x"}"#, 409, "REFERRAL_EXISTS"),
        (#"{"id":"ref_x","affiliate_id":"aff_x","customer_id":"cus_lead"}"#, 409, "REFERRAL_EXISTS"),
        (#"{"id":"ref_x"}"#, 400, "VALIDATION_ERROR"),
        (#"{"id":"ref_x","affiliate_id":"aff_x","status":"churned"}"#, 400, "VALIDATION_ERROR"),
        (#"{"id":"ref_x","affiliate_id":"aff_x","nickname":"bob"}"#, 400, "VALIDATION_ERROR"),
    ])
    func badReferralsAreRejected(body: String, status: Int, code: String) async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.post("/_sandbox/referrals", body)
            #expect(reply.status == status)
            #expect(reply.errorCode == code)
            #expect(!reply.errorMessage.isEmpty)
        }
    }

    @Test func resetClearsLedgerStatsAndReferralStatuses() async throws {
        try await RunningSandbox.with { sandbox in
            _ = try await sandbox.event(Body.conversion(id: "in_reset"))
            _ = try await sandbox.post("/_sandbox/faults", #"{"error_rate":1}"#)
            let reset = try await sandbox.post("/_sandbox/reset", "")
            #expect(reset.status == 200)
            #expect(sandbox.server.ledger.isEmpty)
            #expect(sandbox.server.stats == SandboxStats())
            #expect(sandbox.server.referrals.first { $0.id == "ref_lead" }?.status == .lead)
            // The idempotency store is cleared too, and faults are back to the configuration.
            let again = try await sandbox.event(Body.conversion(id: "in_reset"))
            #expect(again.status == 200)
            #expect(sandbox.server.stats.replays == 0)
        }
    }
}
