import Testing

@testable import AffonsoSandbox

@Suite("Processing: status transitions, commissions, idempotency")
struct EventProcessingTests {
    // MARK: - Transitions

    @Test func referralMovesFromLeadToTrialingToCustomer() async throws {
        try await RunningSandbox.with { sandbox in
            let lead = try await sandbox.event(Body.lead())
            #expect(lead.data["referral_status"] == .string("lead"))
            #expect(lead.data["action"] == .string("event_recorded"))
            #expect(lead.data["transaction_id"] == .null)

            let trial = try await sandbox.event(Body.trial())
            #expect(trial.status == 200)
            #expect(trial.data["referral_status"] == .string("trialing"))
            #expect(trial.data["action"] == .string("referral_updated"))
            #expect(trial.data["event_name"] == .string("trial_started"))
            #expect(trial.data["event_type"] == .string("trial"))
            #expect(trial.data["external_event_id"] == .string("evt_trial"))

            let conversion = try await sandbox.event(Body.conversion())
            #expect(conversion.status == 200)
            #expect(sandbox.server.referrals.first { $0.id == "ref_lead" }?.status == .customer)
        }
    }

    @Test func statusNeverMovesBackwards() async throws {
        try await RunningSandbox.with { sandbox in
            _ = try await sandbox.event(Body.conversion())
            let trial = try await sandbox.event(Body.trial(id: "evt_late_trial"))
            #expect(trial.data["referral_status"] == .string("customer"))
            #expect(trial.data["action"] == .string("event_recorded"))
            let milestone = try await sandbox.event(#"{"event_name":"invited_team","customer_id":"cus_lead"}"#)
            #expect(milestone.data["referral_status"] == .string("customer"))
        }
    }

    // MARK: - Commissions

    @Test func conversionCreatesADefaultThirtyPercentCommission() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.conversion(id: "in_99", amount: "99", currency: "USD"))
            #expect(reply.status == 200)
            #expect(reply.json["success"] == .bool(true))
            let data = reply.data
            #expect(data["id"].stringValue?.hasPrefix("com_") == true)
            #expect(data["referral_id"] == .string("ref_lead"))
            #expect(data["affiliate_id"] == .string("aff_default"))
            #expect(data["sale_amount"] == .number(99))
            #expect(data["sale_amount_currency"] == .string("USD"))
            #expect(data["commission_amount"] == .number(29.7))
            #expect(data["commission_currency"] == .string("USD"))
            #expect(data["status"] == .string("ready_for_payment"))
            #expect(data["external_event_id"] == .string("in_99"))
            #expect(data["created_at"].stringValue.map(RFC3339.isValid) == true)
        }
    }

    @Test func affiliateRateFromTheSeedApplies() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.conversion(#""customer_id":"cus_other""#, amount: "50.00"))
            #expect(reply.data["affiliate_id"] == .string("aff_generous"))
            #expect(reply.data["commission_amount"] == .number(20))
        }
    }

    @Test func commissionIsRoundedToCents() async throws {
        try await RunningSandbox.with {
            $0.defaultCommissionRate = 0.333
        } _: { sandbox in
            let reply = try await sandbox.event(Body.conversion(amount: "10"))
            #expect(reply.data["commission_amount"] == .number(3.33))
        }
    }

    // MARK: - Idempotency

    @Test func sameExternalEventIDReturnsTheStoredResponse() async throws {
        try await RunningSandbox.with { sandbox in
            let first = try await sandbox.event(Body.conversion(id: "in_dup"))
            let second = try await sandbox.event(Body.conversion(id: "in_dup"))
            #expect(first.status == 200 && second.status == 200)
            #expect(first.text == second.text)
            #expect(sandbox.server.ledger.count == 1)
            #expect(sandbox.server.ledger.first?.replays == 1)
            #expect(sandbox.server.stats.replays == 1)
            #expect(sandbox.server.stats.commissions == 1)
        }
    }

    @Test func replayReturnsThePriorResultEvenIfTheBodyChanged() async throws {
        try await RunningSandbox.with { sandbox in
            let first = try await sandbox.event(Body.conversion(id: "in_same", amount: "99"))
            let retry = try await sandbox.event(Body.conversion(id: "in_same", amount: "150"))
            #expect(retry.data["sale_amount"] == .number(99))
            #expect(retry.data["id"] == first.data["id"])
        }
    }

    @Test func eventsWithoutExternalEventIDAreNotDeduplicated() async throws {
        try await RunningSandbox.with { sandbox in
            _ = try await sandbox.event(Body.lead())
            _ = try await sandbox.event(Body.lead())
            #expect(sandbox.server.ledger.count == 2)
            #expect(sandbox.server.stats.replays == 0)
        }
    }

    @Test func rejectedEventsAreNotStoredForReplay() async throws {
        try await RunningSandbox.with { sandbox in
            let missing = try await sandbox.event(Body.conversion(#""customer_id":"cus_later""#, id: "in_wait"))
            #expect(missing.status == 404)
            let added = try await sandbox.post(
                "/_sandbox/referrals",
                #"{"id":"ref_later","affiliate_id":"aff_default","customer_id":"cus_later"}"#
            )
            #expect(added.status == 201)
            let retry = try await sandbox.event(Body.conversion(#""customer_id":"cus_later""#, id: "in_wait"))
            #expect(retry.status == 200)
            #expect(retry.data["referral_id"] == .string("ref_later"))
        }
    }
}
