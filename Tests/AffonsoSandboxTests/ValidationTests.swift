import Testing

@testable import AffonsoSandbox

@Suite("Validation: 400/422 VALIDATION_ERROR with field-level messages")
struct ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var status: Int
        /// Text the message must contain (the field and what is wrong).
        var mentions: String

        var testDescription: String { self.name }
    }

    static let cases: [Case] = [
        Case(name: "not JSON", body: "{event_name:", status: 400, mentions: "not valid JSON"),
        Case(name: "empty body", body: "", status: 400, mentions: "empty"),
        Case(name: "array body", body: "[1]", status: 400, mentions: "body: must be a JSON object"),
        Case(
            name: "missing event_name",
            body: #"{"customer_id":"cus_lead"}"#,
            status: 422,
            mentions: "event_name: is required"
        ),
        Case(
            name: "empty event_name",
            body: #"{"event_name":"","customer_id":"cus_lead"}"#,
            status: 422,
            mentions: "event_name: must not be empty"
        ),
        Case(
            name: "event_name not a string",
            body: #"{"event_name":5,"customer_id":"cus_lead"}"#,
            status: 422,
            mentions: "event_name: must be a string, got a number"
        ),
        Case(
            name: "unknown event_type",
            body: #"{"event_name":"x","event_type":"purchase","customer_id":"cus_lead"}"#,
            status: 422,
            mentions: "event_type: must be one of conversion, lead, trial, milestone"
        ),
        Case(
            name: "no identifier",
            body: #"{"event_name":"x"}"#,
            status: 422,
            mentions: "referral_id, customer_id, external_user_id, click_id"
        ),
        Case(
            name: "identifier not a string",
            body: #"{"event_name":"x","customer_id":42}"#,
            status: 422,
            mentions: "customer_id: must be a string"
        ),
        Case(
            name: "conversion without sale_amount",
            body: #"{"event_name":"paid","event_type":"conversion","customer_id":"cus_lead","external_event_id":"e1","#
                + #""sale_amount_currency":"USD"}"#,
            status: 422,
            mentions: "sale_amount: is required"
        ),
        Case(
            name: "conversion with zero sale_amount",
            body: Body.conversion(amount: "0"),
            status: 422,
            mentions: "sale_amount: must be greater than 0"
        ),
        Case(
            name: "conversion with negative sale_amount",
            body: Body.conversion(amount: "-5"),
            status: 422,
            mentions: "sale_amount: must be greater than 0"
        ),
        Case(
            name: "sale_amount as a string",
            body: Body.conversion(amount: #""99.00""#),
            status: 422,
            mentions: "sale_amount: must be a number, got a string"
        ),
        Case(
            name: "two-letter currency",
            body: Body.conversion(currency: "US"),
            status: 422,
            mentions: "sale_amount_currency: must be a three-letter ISO 4217"
        ),
        Case(
            name: "unknown currency",
            body: Body.conversion(currency: "XYZ"),
            status: 422,
            mentions: "sale_amount_currency"
        ),
        Case(
            name: "conversion without currency",
            body: #"{"event_name":"paid","event_type":"conversion","customer_id":"cus_lead","external_event_id":"e1","#
                + #""sale_amount":9}"#,
            status: 422,
            mentions: "sale_amount_currency: is required"
        ),
        Case(
            name: "conversion without external_event_id",
            body: #"{"event_name":"paid","event_type":"conversion","customer_id":"cus_lead","sale_amount":9,"#
                + #""sale_amount_currency":"USD"}"#,
            status: 422,
            mentions: "external_event_id: is required"
        ),
        Case(
            name: "occurred_at not RFC 3339",
            body: #"{"event_name":"x","customer_id":"cus_lead","occurred_at":"yesterday"}"#,
            status: 422,
            mentions: "occurred_at: must be an RFC 3339 time"
        ),
        Case(
            name: "occurred_at on a day that does not exist",
            body: #"{"event_name":"x","customer_id":"cus_lead","occurred_at":"2026-02-30T00:00:00Z"}"#,
            status: 422,
            mentions: "occurred_at"
        ),
        Case(
            name: "interval weekly",
            body: #"{"event_name":"x","customer_id":"cus_lead","interval":"weekly"}"#,
            status: 422,
            mentions: "interval: must be monthly or yearly"
        ),
        Case(
            name: "is_subscription as a string",
            body: #"{"event_name":"x","customer_id":"cus_lead","is_subscription":"yes"}"#,
            status: 422,
            mentions: "is_subscription: must be true or false"
        ),
        Case(
            name: "metadata as an array",
            body: #"{"event_name":"x","customer_id":"cus_lead","metadata":[1]}"#,
            status: 422,
            mentions: "metadata: must be an object"
        ),
        Case(
            name: "product_ids with a number",
            body: #"{"event_name":"x","customer_id":"cus_lead","product_ids":["prod_1",2]}"#,
            status: 422,
            mentions: "product_ids[1]: must be a string"
        ),
        Case(
            name: "price_ids not an array",
            body: #"{"event_name":"x","customer_id":"cus_lead","price_ids":"price_1"}"#,
            status: 422,
            mentions: "price_ids: must be an array of strings"
        ),
        Case(
            name: "affonso_id differs from referral_id",
            body: #"{"event_name":"x","referral_id":"ref_lead","affonso_id":"ref_other"}"#,
            status: 422,
            mentions: "affonso_id: is an alias of referral_id"
        ),
    ]

    @Test(arguments: cases)
    func invalidBodyIsRejected(_ testCase: Case) async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(testCase.body)
            #expect(reply.status == testCase.status)
            #expect(reply.errorCode == "VALIDATION_ERROR")
            #expect(reply.json["success"] == .bool(false))
            #expect(reply.errorMessage.contains(testCase.mentions), "message: \(reply.errorMessage)")
            #expect(sandbox.server.ledger.isEmpty)
        }
    }

    @Test func everyFieldErrorIsReportedAtOnce() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(#"{"event_type":"conversion","customer_id":"cus_lead"}"#)
            #expect(reply.status == 422)
            for field in ["event_name", "external_event_id", "sale_amount", "sale_amount_currency"] {
                #expect(reply.errorMessage.contains("\(field): is required"), "message: \(reply.errorMessage)")
            }
        }
    }

    @Test func omittedEventTypeIsMilestone() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(#"{"event_name":"project_created","customer_id":"cus_lead"}"#)
            #expect(reply.status == 200)
            #expect(reply.data["event_type"] == .string("milestone"))
        }
    }

    @Test func optionalFieldsOfTheRightTypeAreAccepted() async throws {
        try await RunningSandbox.with { sandbox in
            let body =
                #"{"event_name":"invoice_paid","event_type":"conversion","customer_id":"cus_lead","#
                + #""external_event_id":"in_full","sale_amount":49.5,"sale_amount_currency":"eur","#
                + #""occurred_at":"2026-11-25T10:00:00.123+01:00","product_ids":["prod_1"],"price_ids":[],"#
                + #""interval":"yearly","is_subscription":true,"metadata":{"plan":"pro","seats":3},"unknown":1}"#
            let reply = try await sandbox.event(body)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.data["sale_amount_currency"] == .string("EUR"))
        }
    }

    @Test func nullFieldsCountAsAbsent() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(#"{"event_name":"x","customer_id":"cus_lead","click_id":null}"#)
            #expect(reply.status == 200)
        }
    }

    @Test func affonsoIDIsAnAliasOfReferralID() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(#"{"event_name":"x","affonso_id":"ref_other"}"#)
            #expect(reply.status == 200)
            #expect(reply.data["referral_id"] == .string("ref_other"))
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await RunningSandbox.with {
            $0.maximumBodySize = 1024
        } _: { sandbox in
            let padding = String(repeating: "x", count: 2048)
            let reply = try await sandbox.event(
                #"{"event_name":"x","customer_id":"cus_lead","metadata":{"p":"\#(padding)"}}"#)
            #expect(reply.status == 413)
            #expect(reply.errorCode == "PAYLOAD_TOO_LARGE")
            #expect(reply.json["success"] == .bool(false))
            #expect(sandbox.server.ledger.isEmpty)
            let small = try await sandbox.event(Body.lead())
            #expect(small.status == 200)
        }
    }
}
