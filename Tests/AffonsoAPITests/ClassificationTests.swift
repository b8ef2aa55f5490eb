import Foundation
import Testing

@testable import AffonsoAPI

@Suite("Response classification")
struct ClassificationTests {
    static let key = "sk_live_classification_secret"
    static let context = AffonsoClient.ResponseContext(
        endpoint: "https://api.affonso.io/v1/events",
        keyFile: nil,
        apiKey: key
    )

    static func outcome(_ status: Int, _ body: String, retryAfter: String? = nil) -> AffonsoOutcome {
        AffonsoClient.outcome(
            status: status,
            body: Array(body.utf8),
            retryAfterHeader: retryAfter,
            context: context,
            now: Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT
        )
    }

    static func envelope(_ code: String, _ message: String) -> String {
        #"{"success":false,"error":{"code":"\#(code)","message":"\#(message)"}}"#
    }

    @Test("a conversion's commission is summarised")
    func conversionDelivered() throws {
        let body = #"""
            {"success":true,"data":{"id":"com_1","referral_id":"ref_1","affiliate_id":"aff_1","sale_amount":99,
            "sale_amount_currency":"USD","commission_amount":29.7,"commission_currency":"USD",
            "status":"ready_for_payment","external_event_id":"in_1","created_at":"2026-01-01T00:00:00Z"}}
            """#
        guard case .delivered(let delivery) = Self.outcome(201, body) else {
            Issue.record("expected delivered")
            return
        }
        #expect(delivery.status == 201)
        #expect(delivery.commissionID == "com_1")
        #expect(delivery.commissionAmount == 29.7)
        #expect(delivery.commissionCurrency == "USD")
        #expect(delivery.referralID == "ref_1")
        #expect(delivery.externalEventID == "in_1")
        #expect(delivery.data["status"]?.stringValue == "ready_for_payment")
    }

    @Test("a milestone's action and referral status are summarised")
    func milestoneDelivered() throws {
        let body = #"""
            {"success":true,"data":{"referral_id":"ref_1","transaction_id":null,"event_name":"trial_started",
            "event_type":"trial","external_event_id":"e1","action":"referral_updated","referral_status":"trialing"}}
            """#
        guard case .delivered(let delivery) = Self.outcome(200, body) else {
            Issue.record("expected delivered")
            return
        }
        #expect(delivery.action == "referral_updated")
        #expect(delivery.referralStatus == "trialing")
        #expect(delivery.commissionID == nil)
    }

    @Test("a 2xx without an envelope is still delivered")
    func deliveredWithoutEnvelope() {
        #expect(Self.outcome(204, "").isDelivered)
    }

    @Test(
        "each status maps to one error class",
        arguments: [
            (400, "VALIDATION_ERROR", AffonsoErrorClass.validation),
            (422, "VALIDATION_ERROR", .validation),
            (401, "UNAUTHORIZED", .credentials),
            (403, "FORBIDDEN", .credentials),
            (404, "REFERRAL_NOT_FOUND", .referralNotFound),
            (409, "IDENTIFIER_MISMATCH", .identifierMismatch),
            (429, "RATE_LIMIT_EXCEEDED", .rateLimited),
            (500, "INTERNAL_ERROR", .api5xx),
            (502, "BAD_GATEWAY", .api5xx),
            (503, "INTERNAL_ERROR", .api5xx),
            (408, "TIMEOUT", .timeout),
            (413, "PAYLOAD_TOO_LARGE", .clientError),
            (405, "METHOD_NOT_ALLOWED", .clientError),
            (301, "MOVED", .clientError),
        ]
    )
    func statusClasses(status: Int, code: String, expected: AffonsoErrorClass) {
        let outcome = Self.outcome(status, Self.envelope(code, "server says no"))
        #expect(outcome.errorClass == expected)
        #expect(outcome.status == status)
        guard case .failed(let error) = outcome else { return }
        #expect(error.apiErrorCode == code)
        #expect(error.message.contains("server says no"))
        #expect(error.isRetriable == expected.isRetriable)
    }

    @Test("the status decides before error.code; error.code refines other 4xx")
    func statusFirstThenCode() {
        // A 5xx stays api_5xx whatever its code says.
        #expect(Self.outcome(500, Self.envelope("VALIDATION_ERROR", "x")).errorClass == .api5xx)
        // 401 stays credentials.
        #expect(Self.outcome(401, Self.envelope("REFERRAL_NOT_FOUND", "x")).errorClass == .credentials)
        // An unusual 4xx with a known code is refined.
        #expect(Self.outcome(400, Self.envelope("REFERRAL_NOT_FOUND", "x")).errorClass == .referralNotFound)
        #expect(Self.outcome(400, Self.envelope("IDENTIFIER_MISMATCH", "x")).errorClass == .identifierMismatch)
        // A 404 that is not an Affonso envelope points at a wrong base URL, not a missing referral.
        let notFound = Self.outcome(404, "<html>Not Found</html>")
        #expect(notFound.errorClass == .clientError)
        guard case .failed(let error) = notFound else { return }
        #expect(error.message.contains("affonso.base_url"))
    }

    @Test(
        "Retry-After is read as seconds, as an HTTP-date, or from error.retryAfter",
        arguments: [
            ("7", Duration.seconds(7)),
            ("Sun, 06 Nov 1994 08:50:07 GMT", .seconds(30)),
            ("Sun, 06 Nov 1994 08:49:00 GMT", .zero),
        ]
    )
    func retryAfterHeader(header: String, expected: Duration) {
        guard
            case .failed(let error) = Self.outcome(
                429, Self.envelope("RATE_LIMIT_EXCEEDED", "slow"), retryAfter: header)
        else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.errorClass == .rateLimited)
        #expect(error.retryAfter == expected)
    }

    @Test("error.retryAfter in the body is used without a header; 1 s when neither is sent")
    func retryAfterBody() {
        let body = #"{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow","retryAfter":12}}"#
        guard case .failed(let error) = Self.outcome(429, body) else { return }
        #expect(error.retryAfter == .seconds(12))
        guard case .failed(let fallback) = Self.outcome(429, "") else { return }
        #expect(fallback.retryAfter == .seconds(1))
    }

    @Test("a server that echoes the API key does not leak it into the error")
    func keyRedacted() {
        let outcome = Self.outcome(401, Self.envelope("UNAUTHORIZED", "bad key \(Self.key)"))
        guard case .failed(let error) = outcome else { return }
        #expect(!error.message.contains(Self.key))
        #expect(!"\(error)".contains(Self.key))
        #expect(error.message.contains("[redacted]"))
    }

    @Test("error classes are label-safe")
    func labelSafe() {
        for errorClass in AffonsoErrorClass.all {
            #expect(errorClass.rawValue.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" })
        }
        #expect(AffonsoErrorClass.api5xx.rawValue == "api_5xx")
    }
}
