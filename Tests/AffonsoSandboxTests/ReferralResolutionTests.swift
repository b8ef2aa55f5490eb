import Testing

@testable import AffonsoSandbox

@Suite("Referral resolution: any identifier, 404 REFERRAL_NOT_FOUND, 409 IDENTIFIER_MISMATCH")
struct ReferralResolutionTests {
    @Test(arguments: [
        #""referral_id":"ref_other""#,
        #""customer_id":"cus_other""#,
        #""external_user_id":"usr_other""#,
        #""click_id":"clk_other""#,
        #""customer_id":"cus_other","external_user_id":"usr_other","click_id":"clk_other""#,
    ])
    func anyIdentifierFindsTheReferral(identifiers: String) async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.lead(identifiers))
            #expect(reply.status == 200)
            #expect(reply.json["success"] == .bool(true))
            #expect(reply.data["referral_id"] == .string("ref_other"))
        }
    }

    @Test func unknownIdentifierIsReferralNotFound() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.lead(#""customer_id":"cus_nobody""#))
            #expect(reply.status == 404)
            #expect(reply.errorCode == "REFERRAL_NOT_FOUND")
            #expect(reply.errorMessage.contains("cus_nobody"))
            #expect(sandbox.server.ledger.isEmpty)
        }
    }

    @Test func unknownReferralIDIsNotFoundEvenWithAKnownCustomer() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.lead(#""referral_id":"ref_gone","customer_id":"cus_lead""#))
            #expect(reply.status == 404)
            #expect(reply.errorCode == "REFERRAL_NOT_FOUND")
        }
    }

    @Test func identifiersOfTwoReferralsAreAMismatch() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.lead(#""customer_id":"cus_lead","click_id":"clk_other""#))
            #expect(reply.status == 409)
            #expect(reply.errorCode == "IDENTIFIER_MISMATCH")
            #expect(reply.errorMessage.contains("ref_lead") && reply.errorMessage.contains("ref_other"))
            #expect(sandbox.server.ledger.isEmpty)
        }
    }

    @Test func identifierThatContradictsTheReferralIsAMismatch() async throws {
        try await RunningSandbox.with { sandbox in
            // usr_lead belongs to ref_lead, whose customer is cus_lead, not cus_unknown.
            let reply = try await sandbox.event(
                Body.lead(#""external_user_id":"usr_lead","customer_id":"cus_unknown""#))
            #expect(reply.status == 409)
            #expect(reply.errorCode == "IDENTIFIER_MISMATCH")
        }
    }

    @Test func newIdentifiersAreLinkedToTheMatchedReferral() async throws {
        try await RunningSandbox.with { sandbox in
            // After checkout the app knows the Stripe customer of a referral found by its click.
            let first = try await sandbox.event(Body.trial(#""click_id":"clk_only","customer_id":"cus_new""#))
            #expect(first.status == 200)
            #expect(first.data["referral_id"] == .string("ref_click"))
            let later = try await sandbox.event(Body.conversion(#""customer_id":"cus_new""#, id: "in_new"))
            #expect(later.status == 200)
            #expect(later.data["referral_id"] == .string("ref_click"))
            let linked = sandbox.server.referrals.first { $0.id == "ref_click" }
            #expect(linked?.customerID == "cus_new")
        }
    }
}
