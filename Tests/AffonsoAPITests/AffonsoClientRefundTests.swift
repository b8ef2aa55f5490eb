import AffonsoSandbox
import Foundation
import Testing

@testable import AffonsoAPI

/// `AffonsoClient.sendRefund` over real sockets: against the sandbox for every answer it gives, and against a raw
/// server for what goes on the wire.
@Suite("AffonsoClient refunds")
struct AffonsoClientRefundTests {
    static func refund(_ id: String, amount: Double? = nil, currency: String = "USD") -> AffonsoRefund {
        AffonsoRefund(
            currency: currency, externalEventID: id, refundedAt: "2026-11-30T09:12:00Z", amount: amount,
            reason: "requested_by_customer")
    }

    /// Sends a conversion and returns its Affonso id, read from the delivery.
    static func convert(_ client: AffonsoClient, _ id: String) async throws -> String {
        let outcome = try await client.send(AffonsoClientSandboxTests.conversion(id))
        guard case .delivered(let delivery) = outcome else {
            Issue.record("the conversion was not delivered: \(outcome.errorClass?.rawValue ?? "")")
            throw CancellationError()
        }
        let conversionID = try #require(delivery.conversionID)
        #expect(conversionID.hasPrefix("com_"))
        #expect(delivery.commissionID == conversionID)
        return conversionID
    }

    static func delivery(_ outcome: AffonsoOutcome) throws -> AffonsoDelivery {
        guard case .delivered(let delivery) = outcome else {
            Issue.record("expected delivered, got class \(outcome.errorClass?.rawValue ?? "")")
            throw CancellationError()
        }
        return delivery
    }

    // MARK: - Delivered

    @Test("a partial then a full refund are delivered; the sandbox keeps the net commission")
    func partialThenFull() async throws {
        try await AffonsoClientSandboxTests.withSandbox { client, server in
            let conversionID = try await Self.convert(client, "in_r1")
            let partial = try Self.delivery(
                try await client.sendRefund(Self.refund("re_1", amount: 33), conversionID: conversionID))
            #expect(partial.conversionID == conversionID)
            #expect(partial.salesStatus == "partial_refunded")
            #expect(partial.commissionAmount == 19.8)
            #expect(partial.refundID?.hasPrefix("rfd_") == true)
            #expect(partial.externalEventID == "in_r1", "data.external_event_id is the conversion's")
            #expect(partial.data["refund"]?["external_event_id"]?.stringValue == "re_1")

            // The pre-encoded form the relay uses, with its timings.
            let body = Array(
                #"{"currency":"USD","external_event_id":"re_2","refunded_at":"2026-11-30T10:00:00Z"}"#.utf8)
            let result = try await client.sendRefund(conversionID: conversionID, body: body, externalEventID: "re_2")
            #expect(result.requests == 1)
            let full = try Self.delivery(result.outcome)
            #expect(full.salesStatus == "refunded")
            #expect(full.commissionAmount == 0)

            let entry = try #require(server.conversion(id: conversionID))
            #expect(entry.netCommissionMinorUnits == 0)
            #expect(server.refunds.map(\.externalEventID) == ["re_1", "re_2"])
        }
    }

    @Test("a refund sent again is delivered with the first answer and refunds once")
    func repeated() async throws {
        try await AffonsoClientSandboxTests.withSandbox { client, server in
            let conversionID = try await Self.convert(client, "in_r2")
            let first = try Self.delivery(
                try await client.sendRefund(Self.refund("re_x", amount: 9), conversionID: conversionID))
            let again = try Self.delivery(
                try await client.sendRefund(Self.refund("re_x", amount: 9), conversionID: conversionID))
            #expect(again.refundID == first.refundID)
            #expect(again.responseBody == first.responseBody)
            #expect(server.refunds.count == 1)
            #expect(server.conversion(id: conversionID)?.refundedAmount == 9)
            #expect(server.stats.replays == 1)
        }
    }

    // MARK: - Failures

    @Test("an unknown conversion is conversion_not_found, retriable")
    func unknownConversion() async throws {
        try await AffonsoClientSandboxTests.withSandbox { client, _ in
            let error = try AffonsoClientSandboxTests.failure(
                try await client.sendRefund(Self.refund("re_early"), conversionID: "com_unknown"))
            #expect(error.errorClass == .conversionNotFound)
            #expect(error.code == .conversionNotFound)
            #expect(error.isRetriable)
            #expect(error.status == 404)
            #expect(error.apiErrorCode == "CONVERSION_NOT_FOUND")
            #expect(error.message.contains("com_unknown"))
        }
    }

    @Test("more than remains, or another currency, is validation")
    func invalidRefunds() async throws {
        try await AffonsoClientSandboxTests.withSandbox { client, server in
            let conversionID = try await Self.convert(client, "in_r3")
            let over = try AffonsoClientSandboxTests.failure(
                try await client.sendRefund(Self.refund("re_over", amount: 99.01), conversionID: conversionID))
            #expect(over.errorClass == .validation)
            #expect(!over.isRetriable)
            #expect(over.status == 422)
            #expect(over.message.contains(conversionID))
            let currency = try AffonsoClientSandboxTests.failure(
                try await client.sendRefund(Self.refund("re_eur", currency: "EUR"), conversionID: conversionID))
            #expect(currency.errorClass == .validation)
            #expect(server.refunds.isEmpty)
        }
    }

    @Test("a non-finite amount or an empty conversion id fails as validation without a request")
    func refusedBeforeSending() async throws {
        try await AffonsoClientSandboxTests.withSandbox { client, server in
            for amount in [Double.nan, .infinity, -.infinity] {
                let outcome = try await client.sendRefund(Self.refund("re_nan", amount: amount), conversionID: "com_1")
                #expect(outcome.errorClass == .validation)
            }
            for conversionID in ["", ".", ".."] {
                let result = try await client.sendRefund(conversionID: conversionID, body: Array("{}".utf8))
                #expect(result.outcome.errorClass == .validation)
                #expect(result.requests == 0)
            }
            #expect(server.stats.requests == 0)
        }
    }

    @Test("a key without write:commissions is a credentials fault for refunds too")
    func forbidden() async throws {
        try await AffonsoClientSandboxTests.withSandbox(client: {
            $0.credentials = .apiKey(AffonsoClientSandboxTests.readOnlyKey)
        }) { client, _ in
            let error = try AffonsoClientSandboxTests.failure(
                try await client.sendRefund(Self.refund("re_f"), conversionID: "com_1"))
            #expect(error.errorClass == .credentials)
            #expect(error.status == 403)
            #expect(error.message.contains("refunds"))
            #expect(!error.message.contains(AffonsoClientSandboxTests.readOnlyKey))
        }
    }

    @Test("a 429 to a refund is rate_limited and closes the gate events share")
    func rateLimited() async throws {
        try await AffonsoClientSandboxTests.withSandbox(sandbox: {
            $0.faults.rateLimitNext = 1
            $0.faults.rateLimitRetryAfter = .seconds(1)
        }) { client, server in
            let sent = ContinuousClock.now
            let error = try AffonsoClientSandboxTests.failure(
                try await client.sendRefund(Self.refund("re_429"), conversionID: "com_1"))
            let answered = ContinuousClock.now
            #expect(error.errorClass == .rateLimited)
            let opensAt = try AffonsoClientSandboxTests.expectGateClosed(
                client.rateLimiter, for: .seconds(1), between: sent, and: answered)
            let next = try await client.sendMeasured(
                body: try AffonsoClientSandboxTests.conversion("in_after_429").jsonBody(), externalEventID: nil)
            #expect(next.outcome.isDelivered)
            // The event waited for the gate the refund's 429 closed.
            try AffonsoClientSandboxTests.expectGranted(client.rateLimiter, notBefore: opensAt)
            #expect(server.stats.rateLimited == 1)
        }
    }

    @Test("a 5xx to a refund is api_5xx, retriable")
    func serverError() async throws {
        try await AffonsoClientSandboxTests.withSandbox(sandbox: { $0.faults.errorRate = 1 }) { client, _ in
            let error = try AffonsoClientSandboxTests.failure(
                try await client.sendRefund(Self.refund("re_500"), conversionID: "com_1"))
            #expect(error.errorClass == .api5xx)
            #expect(error.isRetriable)
        }
    }

    // MARK: - On the wire

    @Test("the conversion id is percent-encoded into the path under the base URL's path")
    func requestLine() async throws {
        try await RawServer.withListening(answer: { _ in .reply(UnreadableSuccessTests.ok) }) { server, port in
            let (client, _, _) = try UnreadableSuccessTests.client(port: port)
            _ = try await client.sendRefund(Self.refund("re_w"), conversionID: "com_1")
            _ = try await client.sendRefund(Self.refund("re_w2"), conversionID: "com/../x y\r\nX-Evil: 1")
            _ = try await client.send(body: Array("{}".utf8), externalEventID: "e1")
            try await client.shutdown()
            let lines = server.requests.map { $0.split(separator: "\r\n").first.map(String.init) ?? "" }
            #expect(
                lines == [
                    "POST /v1/conversions/com_1/refund HTTP/1.1",
                    "POST /v1/conversions/com%2F..%2Fx%20y%0D%0AX-Evil%3A%201/refund HTTP/1.1",
                    "POST /v1/events HTTP/1.1",
                ])
            #expect(!server.requests.contains { $0.contains("\r\nX-Evil") })
            let refund = try #require(server.requests.first)
            #expect(refund.contains("Authorization: Bearer sk_test_unreadable"))
            #expect(refund.contains(#""external_event_id":"re_w""#))
        }
        var configuration = AffonsoClientConfiguration(credentials: .apiKey("sk_test_x"))
        configuration.baseURL = "https://proxy.example/affonso/"
        let client = try AffonsoClient(configuration: configuration)
        #expect(client.refundPath(conversionID: "com_1") == "/affonso/v1/conversions/com_1/refund")
        #expect(
            client.refundEndpoint(conversionID: "com 1")
                == "https://proxy.example/affonso/v1/conversions/com%201/refund")
        try await client.shutdown()
    }

    @Test("a refund's 2xx whose body is cut off is sent again when it has an external_event_id")
    func unreadableSuccess() async throws {
        try await RawServer.withListening(answer: { _ in .reply(UnreadableSuccessTests.cutShort, close: true) }) {
            _, port in
            let (client, metrics, log) = try UnreadableSuccessTests.client(port: port)
            let body = try Self.refund("re_cut").jsonBody()
            let keyed = try await client.sendRefund(conversionID: "com_1", body: body, externalEventID: "re_cut")
            #expect(keyed.outcome.errorClass == .connection)
            #expect(keyed.outcome.status == 200)
            let unkeyed = try await client.sendRefund(conversionID: "com_1", body: body, externalEventID: nil)
            #expect(try Self.delivery(unkeyed.outcome).isBodyUnreadable)
            try await client.shutdown()
            #expect(try UnreadableSuccessTests.count(metrics, "resend") == 1)
            #expect(try UnreadableSuccessTests.count(metrics, "assume_delivered") == 1)
            #expect(log.all.contains("conversion com_1"))
        }
    }

    // MARK: - Classification

    static let refundContext = AffonsoClient.ResponseContext(
        endpoint: "https://api.affonso.io/v1/conversions/com_1/refund", keyFile: nil, apiKey: "sk_live_x",
        kind: .refund(conversionID: "com_1"))

    @Test(
        "each answer to a refund maps to one class",
        arguments: [
            (404, #"{"success":false,"error":{"code":"CONVERSION_NOT_FOUND","message":"no"}}"#, "conversion_not_found"),
            (404, #"{"success":false,"error":{"code":"SOMETHING","message":"no"}}"#, "conversion_not_found"),
            (404, "<html>not found</html>", "client_error"),
            (422, #"{"success":false,"error":{"code":"VALIDATION_ERROR","message":"too much"}}"#, "validation"),
            (400, "", "validation"),
            (409, #"{"success":false,"error":{"code":"IDENTIFIER_MISMATCH","message":"x"}}"#, "client_error"),
            (401, "", "credentials"),
            (403, "", "credentials"),
            (408, "", "timeout"),
            (429, "", "rate_limited"),
            (503, "", "api_5xx"),
            (301, "", "client_error"),
            (418, "", "client_error"),
        ])
    func refundClassification(status: Int, body: String, expected: String) {
        let outcome = AffonsoClient.outcome(
            status: status, body: Array(body.utf8), retryAfterHeader: nil, context: Self.refundContext)
        #expect(outcome.errorClass?.rawValue == expected)
    }

    @Test("conversion_not_found is a retriable class of its own")
    func errorClass() {
        #expect(AffonsoErrorClass.all.contains(.conversionNotFound))
        #expect(AffonsoErrorClass.conversionNotFound.rawValue == "conversion_not_found")
        #expect(AffonsoErrorClass.conversionNotFound.isRetriable)
        #expect(Set(AffonsoErrorClass.all.map(\.rawValue)).count == AffonsoErrorClass.all.count)
    }

    @Test("a refund body has the wire names, amount left out for a full refund")
    func body() throws {
        let full = String(decoding: try Self.refund("re_b").jsonBody(), as: UTF8.self)
        #expect(
            full
                == #"{"currency":"USD","external_event_id":"re_b","reason":"requested_by_customer","refunded_at":"2026-11-30T09:12:00Z"}"#
        )
        let partial = String(decoding: try Self.refund("re_b", amount: 12.34).jsonBody(), as: UTF8.self)
        #expect(partial.hasPrefix(#"{"amount":12.34,"#))
    }
}
