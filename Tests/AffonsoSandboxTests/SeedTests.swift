import Foundation
import Testing

@testable import AffonsoSandbox

@Suite("Referral seed files (YAML or JSON)")
struct SeedTests {
    @Test func yamlListLoads() throws {
        let seed = try SandboxSeed.parse(
            """
            - id: ref_1
              affiliate_id: aff_1
              customer_id: cus_1
              external_user_id: 12345
              status: trialing
            - id: ref_2
              affiliate_id: aff_1
              click_id: clk_2
            """,
            source: "seed.yaml"
        )
        #expect(seed.referrals.count == 2)
        #expect(seed.referrals[0].externalUserID == "12345")
        #expect(seed.referrals[0].status == .trialing)
        #expect(seed.referrals[1].status == .lead)
        #expect(seed.referrals[1].customerID == nil)
    }

    @Test("an unreadable or non-UTF-8 seed file says what is wrong, not Foundation's wording")
    func unreadableSeedFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "seed-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let binary = directory.appendingPathComponent("seed.yaml").path
        try Data([0xFF, 0xFE, 0x00]).write(to: URL(fileURLWithPath: binary))
        for (path, expected) in [
            (directory.path, "cannot read the referral seed file (is it a readable file, not a directory?)"),
            (binary, "the referral seed file is not UTF-8 text"),
        ] {
            let error = #expect(throws: SandboxError.self) { _ = try SandboxSeed.load(path: path) }
            let message = "\(error.map { "\($0)" } ?? "")"
            #expect(message.contains(expected), "\(message)")
            #expect(!message.contains("could not be completed"))
        }
    }

    @Test func jsonWithAffiliatesLoads() throws {
        let seed = try SandboxSeed.parse(
            #"{"affiliates":[{"id":"aff_1","commission_rate":0.25}],"#
                + #""referrals":[{"id":"ref_1","affiliate_id":"aff_1","customer_id":"cus_1","status":"customer"}]}"#,
            source: "seed.json"
        )
        #expect(seed.commissionRates == ["aff_1": 0.25])
        #expect(seed.referrals.first?.status == .customer)
    }

    @Test(arguments: [
        ("- id: ref_1\n", "seed.yaml: referrals[0]: `affiliate_id` is required"),
        ("- id: ref_1\n  affiliate_id: a\n  status: churned\n", "`status` must be one of lead, trialing, customer"),
        ("- id: ref_1\n  affiliate_id: a\n  cusomer_id: c\n", "unknown field `cusomer_id`"),
        ("referrals: 5\n", "expected a list of referrals"),
        ("affiliates:\n  - id: a\n    commission_rate: 30\nreferrals: []\n", "commission_rate"),
        ("- [unclosed\n", "not valid YAML or JSON"),
    ])
    func badSeedsNameTheProblem(text: String, mentions: String) {
        #expect {
            _ = try SandboxSeed.parse(text, source: "seed.yaml")
        } throws: { error in
            guard let error = error as? SandboxError else { return false }
            return error.code == .invalidSeedFile && error.message.contains(mentions)
        }
    }

    @Test func missingFileNamesThePath() {
        #expect {
            _ = try SandboxSeed.load(path: "/nonexistent/referrals.yaml")
        } throws: { error in
            (error as? SandboxError)?.message.contains("/nonexistent/referrals.yaml") == true
        }
    }

    @Test func duplicateIdentifiersAreRefusedAtStart() {
        var configuration = SandboxConfiguration()
        configuration.referrals = [
            SandboxReferral(id: "ref_1", affiliateID: "aff", customerID: "cus_same"),
            SandboxReferral(id: "ref_2", affiliateID: "aff", customerID: "cus_same"),
        ]
        #expect {
            _ = try AffonsoSandboxServer(configuration: configuration)
        } throws: { error in
            guard let error = error as? SandboxError else { return false }
            return error.code == .conflictingReferral && error.message.contains("cus_same")
        }
    }

    @Test func exampleSeedFileLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let seed = try SandboxSeed.load(path: root.appendingPathComponent("examples/sandbox-referrals.yaml").path)
        #expect(seed.referrals.count >= 20)
        #expect(seed.referrals.allSatisfy { $0.id.hasPrefix("ref_") && $0.affiliateID.hasPrefix("aff_") })
        #expect(seed.referrals.contains { $0.customerID?.hasPrefix("cus_") == true })
        var configuration = SandboxConfiguration()
        configuration.referrals = seed.referrals
        _ = try AffonsoSandboxServer(configuration: configuration)
    }
}
