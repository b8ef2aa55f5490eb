import Foundation
import HTTPTypes
import Testing

@testable import AffonsoAPI

/// Values from the API are input: out-of-range `Retry-After`, `error.retryAfter` and `X-RateLimit-*` never trap
/// and never make the client wait longer than `affonso.max_retry_after` (60 s by default).
@Suite("Hostile rate-limit values")
struct HostileResponseTests {
    static let context = AffonsoClient.ResponseContext(
        endpoint: "https://api.affonso.io/v1/events", keyFile: nil, apiKey: "sk_live_hostile_secret")

    static func wait429(header: String?, body: String) -> Duration? {
        let outcome = AffonsoClient.outcome(
            status: 429, body: Array(body.utf8), retryAfterHeader: header, context: context,
            now: Date(timeIntervalSince1970: 784_111_777))
        guard case .failed(let error) = outcome, error.errorClass == .rateLimited else { return nil }
        return error.retryAfter
    }

    static let plainBody = #"{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow"}}"#

    @Test(
        "a 429's Retry-After out of range is capped at 60 s or ignored (then 1 s), never a trap",
        arguments: [
            ("1e30", Duration.seconds(60)), ("inf", .seconds(60)), ("Infinity", .seconds(60)),
            ("9223372036854775807", .seconds(60)), ("1e400", .seconds(60)), ("-5", .seconds(1)), ("nan", .seconds(1)),
            ("Sun, 06 Nov 999999999 08:49:37 GMT", .seconds(1)), ("Fri, 31 Dec 9999 23:59:59 GMT", .seconds(60)),
            ("٣٠", .seconds(1)), ("", .seconds(1)),
        ]
    )
    func retryAfterHeader(header: String, expected: Duration) {
        #expect(Self.wait429(header: header, body: Self.plainBody) == expected)
    }

    @Test(
        "an unusable Retry-After header falls back to error.retryAfter in the body", arguments: ["-5", "nan", "soon"])
    func headerFallsBackToBody(header: String) {
        let body = #"{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow","retryAfter":12}}"#
        #expect(Self.wait429(header: header, body: body) == .seconds(12))
    }

    @Test(
        "error.retryAfter in a 429 body out of range is capped at 60 s, and the error code still counts",
        arguments: ["1e30", "1e400", "-1e30", "\"1e30\"", "\"soon\"", "[1]", "9223372036854775807"]
    )
    func retryAfterBody(value: String) throws {
        let body =
            #"{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow","retryAfter":"#
            + value + "}}"
        let wait = try #require(Self.wait429(header: nil, body: body))
        #expect(wait >= .zero && wait <= .seconds(60))
        let outcome = AffonsoClient.outcome(
            status: 409, body: Array(body.replacing("RATE_LIMIT_EXCEEDED", with: "IDENTIFIER_MISMATCH").utf8),
            retryAfterHeader: nil, context: Self.context)
        #expect(outcome.errorClass == .identifierMismatch)
    }

    @Test(
        "X-RateLimit-* out of range on a success never trap and close the gate for at most 60 s",
        arguments: [
            ("300", "0", "inf"), ("300", "0", "nan"), ("300", "0", "1e30"), ("300", "0", "-inf"),
            ("1e400", "0", "+30"), ("300", "-5", "+30"), ("300", "-5", "+100000"),
            ("-1", "1", "+30"), ("9223372036854775807", "9223372036854775807", "9223372036854775807"),
            ("300", "99999999999999999999999", "+30"), ("ｘ", "０", "+30"),
        ]
    )
    func rateLimitHeaders(limit: String, remaining: String, reset: String) async throws {
        var reply = StubServer.Reply()
        let now = Int(Date().timeIntervalSince1970)
        let resetValue = reset.hasPrefix("+") ? "\(now + Int(reset.dropFirst())!)" : reset
        reply.headers[HTTPField.Name("X-RateLimit-Limit")!] = limit
        reply.headers[HTTPField.Name("X-RateLimit-Remaining")!] = remaining
        reply.headers[HTTPField.Name("X-RateLimit-Reset")!] = resetValue
        try await AffonsoClientStubTests.withClient(reply) { client, _ in
            let outcome = try await client.send(AffonsoClientStubTests.event)
            #expect(outcome.isDelivered)
            let closed = client.rateLimiter.gateRemaining ?? .zero
            #expect(closed <= .seconds(60))
        }
    }

    @Test("a 429 with Retry-After 1e30 closes the gate for 60 s, not forever")
    func retryAfterGate() async throws {
        var reply = StubServer.Reply()
        reply.status = .tooManyRequests
        reply.headers[HTTPField.Name("Retry-After")!] = "1e30"
        reply.body = #"{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"slow","retryAfter":1e30}}"#
        try await AffonsoClientStubTests.withClient(reply) { client, _ in
            let sent = ContinuousClock.now
            let outcome = try await client.send(AffonsoClientStubTests.event)
            #expect(outcome.errorClass == .rateLimited)
            let closed = try #require(client.rateLimiter.gateRemaining)
            // 60 s from the answer, which came at most this long ago (a loaded machine may be slow).
            let sinceSent = ContinuousClock.now - sent
            #expect(closed >= .seconds(59) - sinceSent && closed <= .seconds(60), "closed \(closed)")
        }
    }
}
