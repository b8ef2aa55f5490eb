import Testing

@testable import AffonsoSandbox

@Suite("Authorization: 401 UNAUTHORIZED, 403 FORBIDDEN")
struct AuthorizationTests {
    @Test func missingKeyIsUnauthorized() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.lead(), key: nil)
            #expect(reply.status == 401)
            #expect(reply.errorCode == "UNAUTHORIZED")
            #expect(reply.json["success"] == .bool(false))
            #expect(reply.errorMessage.contains("Authorization"))
            #expect(sandbox.server.ledger.isEmpty)
        }
    }

    @Test func unknownKeyIsUnauthorizedAndNeverEchoed() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.lead(), key: "sk_live_secret_value")
            #expect(reply.status == 401)
            #expect(reply.errorCode == "UNAUTHORIZED")
            #expect(!reply.text.contains("sk_live_secret_value"))
        }
    }

    @Test func nonBearerSchemeIsUnauthorized() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.send(
                "/v1/events",
                method: .post,
                headers: [.authorization: "Basic c2tfdGVzdF9zYW5kYm94Og=="],
                body: Body.lead()
            )
            #expect(reply.status == 401)
            #expect(reply.errorCode == "UNAUTHORIZED")
        }
    }

    @Test func keyWithoutWriteCommissionsIsForbidden() async throws {
        try await RunningSandbox.with {
            $0.apiKeys = [.defaultKey, try! SandboxAPIKey(parsing: "sk_test_readonly:read:referrals")]
        } _: { sandbox in
            let reply = try await sandbox.event(Body.lead(), key: "sk_test_readonly")
            #expect(reply.status == 403)
            #expect(reply.errorCode == "FORBIDDEN")
            #expect(reply.errorMessage.contains("write:commissions"))
            let allowed = try await sandbox.event(Body.lead(), key: RunningSandbox.key)
            #expect(allowed.status == 200)
        }
    }

    @Test(arguments: [
        ("sk_a", Set(["write:commissions"])),
        ("sk_b:", Set<String>()),
        ("sk_c:write:commissions,read:referrals", Set(["write:commissions", "read:referrals"])),
    ])
    func keySpecificationsParse(specification: String, scopes: Set<String>) throws {
        let key = try SandboxAPIKey(parsing: specification)
        #expect(key.scopes == scopes)
        #expect(!key.key.contains(":"))
    }

    @Test func emptyKeySpecificationIsRejected() {
        #expect(throws: SandboxError.self) { try SandboxAPIKey(parsing: ":write:commissions") }
    }
}
