import Testing

@testable import AffonsoSandbox

/// `POST /v1/conversions/{id}/refund` over real HTTP: full and partial refunds, idempotency, 404 and 422, and
/// exact commission arithmetic.
@Suite("Refunds: POST /v1/conversions/{id}/refund")
struct RefundTests {
    // MARK: - Full and partial

    @Test func fullRefundTakesTheWholeCommissionBack() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_full")
            #expect(id.hasPrefix("com_"))
            let reply = try await sandbox.refund(id, Body.refund(id: "re_full", reason: "requested_by_customer"))
            #expect(reply.status == 200)
            #expect(reply.json["success"] == .bool(true))
            #expect(reply.data["id"] == .string(id))
            #expect(reply.data["sales_status"] == .string("refunded"))
            #expect(reply.data["refunded_amount"] == .number(99))
            #expect(reply.data["commission_amount"] == .number(0))
            #expect(reply.data["original_commission_amount"] == .number(29.7))
            #expect(reply.data["external_event_id"] == .string("in_full"))
            #expect(reply.data["refund"]["amount"] == .number(99))
            #expect(reply.data["refund"]["commission_reversed"] == .number(29.7))
            #expect(reply.data["refund"]["external_event_id"] == .string("re_full"))
            #expect(reply.data["refund"]["reason"] == .string("requested_by_customer"))
            #expect(reply.data["refund"]["id"].stringValue?.hasPrefix("rfd_") == true)
            #expect(reply.header("X-RateLimit-Limit") != nil)

            let entry = try #require(sandbox.server.conversion(id: id))
            #expect(entry.salesStatus == "refunded")
            #expect(entry.refundedAmount == 99)
            #expect(entry.netCommissionAmount == 0)
            #expect(entry.netCommissionMinorUnits == 0)
            #expect(entry.commissionAmount == 29.7)
            #expect(entry.refundCount == 1)
            let refunds = sandbox.server.refunds
            #expect(refunds.count == 1)
            #expect(refunds.first?.conversionID == id)
            #expect(refunds.first?.amountMinorUnits == 9900)
            #expect(refunds.first?.commissionReversedMinorUnits == 2970)
            #expect(sandbox.server.stats.refunds == 1)
        }
    }

    @Test func partialRefundsReduceTheCommissionInProportion() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_partial")
            #expect(sandbox.server.conversion(id: id)?.salesStatus == "paid")
            let first = try await sandbox.refund(id, Body.refund(id: "re_p1", amount: "33"))
            #expect(first.status == 200)
            #expect(first.data["sales_status"] == .string("partial_refunded"))
            #expect(first.data["refunded_amount"] == .number(33))
            // 29.70 × 66 / 99 = 19.80
            #expect(first.data["commission_amount"] == .number(19.8))
            #expect(first.data["refund"]["commission_reversed"] == .number(9.9))
            #expect(sandbox.server.conversion(id: id)?.salesStatus == "partial_refunded")

            let rest = try await sandbox.refund(id, Body.refund(id: "re_p2"))
            #expect(rest.status == 200)
            #expect(rest.data["sales_status"] == .string("refunded"))
            #expect(rest.data["refund"]["amount"] == .number(66))
            #expect(rest.data["commission_amount"] == .number(0))
            #expect(rest.data["refund"]["commission_reversed"] == .number(19.8))
            #expect(sandbox.server.refunds.map(\.salesStatus) == ["partial_refunded", "refunded"])
            #expect(sandbox.server.conversion(id: id)?.netCommissionMinorUnits == 0)
        }
    }

    // MARK: - Idempotency

    @Test func aRepeatedRefundAnswersTheFirstResultAndRefundsOnce() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_twice")
            let first = try await sandbox.refund(id, Body.refund(id: "re_twice", amount: "10"))
            let second = try await sandbox.refund(id, Body.refund(id: "re_twice", amount: "10"))
            #expect(first.status == 200)
            #expect(second.status == 200)
            #expect(second.text == first.text)
            // Even with another amount, the key decides: the first result, nothing refunded.
            let third = try await sandbox.refund(id, Body.refund(id: "re_twice", amount: "50"))
            #expect(third.text == first.text)
            let entry = try #require(sandbox.server.conversion(id: id))
            #expect(entry.refundedAmount == 10)
            #expect(entry.refundCount == 1)
            #expect(sandbox.server.refunds.count == 1)
            #expect(sandbox.server.refunds.first?.replays == 2)
            #expect(sandbox.server.stats.refunds == 1)
            #expect(sandbox.server.stats.replays == 2)
            // Refunds without a key are never deduplicated.
            _ = try await sandbox.refund(id, Body.refund(id: nil, amount: "1"))
            _ = try await sandbox.refund(id, Body.refund(id: nil, amount: "1"))
            #expect(sandbox.server.conversion(id: id)?.refundedAmount == 12)
        }
    }

    // MARK: - Refused refunds

    @Test func anUnknownConversionIs404ConversionNotFound() async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.refund("com_nope", Body.refund(id: "re_early"))
            #expect(reply.status == 404)
            #expect(reply.errorCode == "CONVERSION_NOT_FOUND")
            #expect(reply.errorMessage.contains("com_nope"))
            #expect(sandbox.server.refunds.isEmpty)
            // Nothing was stored: once the conversion exists, the same refund goes through.
            _ = try await sandbox.convert(id: "in_later")
            let id = try #require(sandbox.server.ledger.first?.conversionID)
            #expect(try await sandbox.refund(id, Body.refund(id: "re_early")).status == 200)
            // A lead's event id is no conversion id.
            _ = try await sandbox.event(Body.lead(id: "evt_lead"))
            #expect(try await sandbox.refund("evt_lead", Body.refund(id: "re_lead")).status == 404)
        }
    }

    @Test func moreThanRemainsIs422AndChangesNothing() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_over")
            let over = try await sandbox.refund(id, Body.refund(id: "re_over", amount: "99.01"))
            #expect(over.status == 422)
            #expect(over.errorCode == "VALIDATION_ERROR")
            #expect(over.errorMessage.contains("amount"))
            #expect(over.errorMessage.contains("99.00"))
            #expect(try await sandbox.refund(id, Body.refund(id: "re_90", amount: "90")).status == 200)
            let rest = try await sandbox.refund(id, Body.refund(id: "re_10", amount: "10"))
            #expect(rest.status == 422)
            #expect(rest.errorMessage.contains("9.00"))
            #expect(try await sandbox.refund(id, Body.refund(id: "re_9", amount: "9")).status == 200)
            let done = try await sandbox.refund(id, Body.refund(id: "re_more"))
            #expect(done.status == 422)
            #expect(done.errorMessage.contains("fully refunded"))
            let entry = try #require(sandbox.server.conversion(id: id))
            #expect(entry.refundedAmount == 99)
            #expect(entry.refundCount == 2)
            // A refused refund is not remembered: its key is still free.
            #expect(sandbox.server.stats.replays == 0)
        }
    }

    @Test func anotherCurrencyIs422() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_eur", amount: "50", currency: "EUR")
            let reply = try await sandbox.refund(id, Body.refund(id: "re_usd", amount: "5", currency: "USD"))
            #expect(reply.status == 422)
            #expect(reply.errorCode == "VALIDATION_ERROR")
            #expect(reply.errorMessage.contains("EUR"))
            #expect(reply.errorMessage.contains("USD"))
            // The code is case-insensitive, like sale_amount_currency.
            #expect(try await sandbox.refund(id, Body.refund(id: "re_eur", amount: "5", currency: "eur")).status == 200)
            #expect(sandbox.server.refunds.map(\.currency) == ["EUR"])
        }
    }

    static let absurdAmounts: [(amount: String, mentions: String)] = [
        ("1e30", "at most 90071992547409.91 USD"),
        ("9223372036854775807", "at most"),
        ("9007199254740992", "at most"),
        ("-5", "greater than 0"),
        ("0", "greater than 0"),
        ("-0", "greater than 0"),
        ("10.005", "whole number of USD minor units"),
        ("1e-9", "whole number"),
        (#""inf""#, "must be a number, got a string"),
        (#""NaN""#, "must be a number, got a string"),
        (#""10""#, "must be a number, got a string"),
        ("true", "must be a number, got a boolean"),
        ("[1]", "must be a number, got an array"),
    ]

    @Test(arguments: Self.absurdAmounts)
    func absurdAmountsAre422AndLeaveTheCommission(amount: String, mentions: String) async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_absurd")
            let reply = try await sandbox.refund(id, Body.refund(id: "re_absurd", amount: amount))
            #expect(reply.status == 422)
            #expect(reply.errorCode == "VALIDATION_ERROR")
            #expect(reply.errorMessage.contains(mentions), "message: \(reply.errorMessage.prefix(200))")
            let entry = try #require(sandbox.server.conversion(id: id))
            #expect(entry.netCommissionMinorUnits == 2970)
            #expect(entry.salesStatus == "paid")
            #expect(sandbox.server.refunds.isEmpty)
        }
    }

    @Test(arguments: ["NaN", "Infinity", "-Infinity", "1e999", "{", ""])
    func unreadableBodiesAre400(body: String) async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_unreadable")
            let json =
                body.isEmpty ? "" : #"{"currency":"USD","refunded_at":"2026-11-30T09:12:00Z","amount":"# + body + "}"
            let reply = try await sandbox.refund(id, body == "{" ? "{" : json)
            #expect(reply.status == 400)
            #expect(reply.errorCode == "VALIDATION_ERROR")
            #expect(sandbox.server.refunds.isEmpty)
        }
    }

    @Test func missingAndWrongFieldsAreListedTogether() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_fields")
            let missing = try await sandbox.refund(id, "{}")
            #expect(missing.status == 422)
            #expect(missing.errorMessage.contains("currency: is required"))
            #expect(missing.errorMessage.contains("refunded_at: is required"))
            let wrong = try await sandbox.refund(
                id, #"{"currency":"XYZ","refunded_at":"yesterday","reason":7,"external_event_id":""}"#)
            #expect(wrong.status == 422)
            for field in ["currency", "refunded_at", "reason", "external_event_id"] {
                #expect(wrong.errorMessage.contains("\(field):"), "no error for \(field)")
            }
            #expect(try await sandbox.refund(id, "[1]").status == 400)
            #expect(sandbox.server.refunds.isEmpty)
        }
    }

    // MARK: - Exact arithmetic

    /// `round(commission × remaining ÷ sale)`, halves up, computed independently of the sandbox.
    static func expectedNet(commission: Int64, sale: Int64, refunded: Int64) -> Int64 {
        let product = Int128(commission) * Int128(sale - refunded)
        let (quotient, remainder) = product.quotientAndRemainder(dividingBy: Int128(sale))
        return Int64(2 * remainder >= Int128(sale) ? quotient + 1 : quotient)
    }

    @Test(arguments: [UInt64(1), 2, 3, 42, 2026])
    func randomSplitsAddUpExactlyAndEndAtZero(seed: UInt64) async throws {
        var generator = SplitMix(seed: seed)
        try await RunningSandbox.with { sandbox in
            // 100.01 USD at 40% (aff_generous): commission 40.00 (4000.4 cents rounded).
            let id = try await sandbox.convert(id: "in_split_\(seed)", amount: "100.01", customer: "cus_other")
            let sale: Int64 = 10_001
            let commission: Int64 = 4_000
            #expect(sandbox.server.conversion(id: id)?.netCommissionMinorUnits == commission)
            var refunded: Int64 = 0
            var reversed: Int64 = 0
            var step = 0
            while refunded < sale {
                step += 1
                let remaining = sale - refunded
                let cents = Int64.random(in: 1...min(remaining, 3_000), using: &generator)
                let last = cents == remaining && Bool.random(using: &generator)
                let body = Body.refund(
                    id: "re_\(seed)_\(step)", amount: last ? nil : Money.text(cents, currency: "USD"))
                let reply = try await sandbox.refund(id, body)
                try #require(reply.status == 200, "step \(step): \(reply.errorMessage.prefix(200))")
                refunded += cents
                let net = Self.expectedNet(commission: commission, sale: sale, refunded: refunded)
                let entry = try #require(sandbox.server.conversion(id: id))
                #expect(entry.netCommissionMinorUnits == net)
                #expect(reply.data["commission_amount"].numberValue == Money.major(net, currency: "USD"))
                reversed += try #require(sandbox.server.refunds.last?.commissionReversedMinorUnits)
                #expect(commission - reversed == net)
            }
            let entry = try #require(sandbox.server.conversion(id: id))
            #expect(entry.netCommissionMinorUnits == 0)
            #expect(entry.salesStatus == "refunded")
            #expect(sandbox.server.refunds.reduce(0) { $0 + $1.amountMinorUnits } == sale)
        }
    }

    @Test func theLargestSaleDoesNotOverflow() async throws {
        try await RunningSandbox.with { sandbox in
            // 2^53 − 1 cents: the largest accepted sale.
            let id = try await sandbox.convert(id: "in_max", amount: "90071992547409.91")
            let sale = Money.maximumMinorUnits
            let commission = Self.expectedNet(commission: sale, sale: 10, refunded: 7)  // 30%, halves up
            let entry = try #require(sandbox.server.conversion(id: id))
            #expect(entry.netCommissionMinorUnits == commission)
            let reply = try await sandbox.refund(id, Body.refund(id: "re_cent", amount: "0.01"))
            #expect(reply.status == 200)
            let net = Self.expectedNet(commission: commission, sale: sale, refunded: 1)
            #expect(sandbox.server.conversion(id: id)?.netCommissionMinorUnits == net)
            #expect(reply.data["refunded_amount"] == .number(0.01))
            let rest = try await sandbox.refund(id, Body.refund(id: "re_rest"))
            #expect(rest.status == 200)
            #expect(rest.data["refund"]["amount"] == .number(90_071_992_547_409.9))
            #expect(sandbox.server.conversion(id: id)?.netCommissionMinorUnits == 0)
            #expect(rest.text.contains(#""sale_amount":90071992547409.91"#))
        }
    }

    @Test func zeroAndThreeDecimalCurrenciesUseTheirMinorUnit() async throws {
        try await RunningSandbox.with { sandbox in
            let yen = try await sandbox.convert(id: "in_jpy", amount: "1000", currency: "JPY")
            #expect(sandbox.server.conversion(id: yen)?.netCommissionMinorUnits == 300)
            let half = try await sandbox.refund(yen, Body.refund(id: "re_jpy_half", amount: "0.5", currency: "JPY"))
            #expect(half.status == 422)
            #expect(half.errorMessage.contains("JPY minor units"))
            let part = try await sandbox.refund(yen, Body.refund(id: "re_jpy", amount: "333", currency: "JPY"))
            #expect(part.status == 200)
            // 300 × 667 / 1000 = 200.1 → 200 yen
            #expect(part.text.contains(#""commission_amount":200,"#))
            let dinar = try await sandbox.convert(id: "in_kwd", amount: "10.001", currency: "KWD")
            #expect(sandbox.server.conversion(id: dinar)?.netCommissionMinorUnits == 3000)
            let fils = try await sandbox.refund(dinar, Body.refund(id: "re_kwd", amount: "0.001", currency: "KWD"))
            #expect(fils.status == 200)
            #expect(fils.text.contains(#""refunded_amount":0.001,"#))
        }
    }

    @Test(arguments: [("1e30", "at most"), ("0.001", "less than one minor unit"), ("90071992547409.92", "at most")])
    func conversionsOutsideTheMoneyRangeAre422(amount: String, mentions: String) async throws {
        try await RunningSandbox.with { sandbox in
            let reply = try await sandbox.event(Body.conversion(id: "in_range", amount: amount))
            #expect(reply.status == 422)
            #expect(reply.errorMessage.contains("sale_amount"))
            #expect(reply.errorMessage.contains(mentions))
            #expect(sandbox.server.ledger.isEmpty)
        }
    }

    @Test func saleAmountsAreRoundedToTheMinorUnitHalvesToEven() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_round", amount: "10.125")
            #expect(sandbox.server.conversion(id: id)?.saleAmount == 10.12)
            // The whole (rounded) sale can be refunded.
            let reply = try await sandbox.refund(id, Body.refund(id: "re_round", amount: "10.12"))
            #expect(reply.data["sales_status"] == .string("refunded"))
        }
    }

    // MARK: - Shared with /v1/events

    @Test func authorizationIsTheSameAsForEvents() async throws {
        try await RunningSandbox.with {
            $0.apiKeys = [.defaultKey, SandboxAPIKey(key: "sk_test_readonly", scopes: [])]
        } _: { sandbox in
            let id = try await sandbox.convert(id: "in_auth")
            let missing = try await sandbox.refund(id, Body.refund(), key: nil)
            #expect(missing.status == 401)
            #expect(missing.errorCode == "UNAUTHORIZED")
            let wrong = try await sandbox.refund(id, Body.refund(), key: "sk_live_wrong_secret")
            #expect(wrong.status == 401)
            #expect(!wrong.text.contains("sk_live_wrong_secret"))
            let readOnly = try await sandbox.refund(id, Body.refund(), key: "sk_test_readonly")
            #expect(readOnly.status == 403)
            #expect(readOnly.errorMessage.contains("refund"))
            #expect(sandbox.server.refunds.isEmpty)
        }
    }

    @Test func theRateLimitIsSharedWithEvents() async throws {
        let plan = SandboxPlan(name: "tiny", requestsPerMinute: 3, burstPerSecond: 100)
        try await RunningSandbox.with {
            $0.plan = plan
        } _: { sandbox in
            let id = try await sandbox.convert(id: "in_limit")
            #expect(try await sandbox.refund(id, Body.refund(id: "re_l1", amount: "1")).status == 200)
            #expect(try await sandbox.event(Body.lead()).status == 200)
            let limited = try await sandbox.refund(id, Body.refund(id: "re_l2", amount: "1"))
            #expect(limited.status == 429)
            #expect(limited.errorCode == "RATE_LIMIT_EXCEEDED")
            #expect(limited.intHeader("Retry-After") ?? 0 >= 1)
            #expect(sandbox.server.refunds.count == 1)
        }
    }

    @Test func injectedFaultsApplyToRefunds() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_fault")
            _ = try await sandbox.post("/_sandbox/faults", #"{"error_rate":1}"#)
            let failed = try await sandbox.refund(id, Body.refund(id: "re_fault"))
            #expect(failed.status == 500)
            #expect(failed.errorCode == "INTERNAL_ERROR")
            #expect(sandbox.server.refunds.isEmpty)
            _ = try await sandbox.post("/_sandbox/faults", #"{"error_rate":0,"rate_limit_next":1}"#)
            #expect(try await sandbox.refund(id, Body.refund(id: "re_fault")).status == 429)
            #expect(try await sandbox.refund(id, Body.refund(id: "re_fault")).status == 200)
            #expect(sandbox.server.stats.faultsInjected["error"] == 1)
        }
    }

    // MARK: - Control endpoints

    @Test func theLedgerShowsRefundsAndNetCommissions() async throws {
        try await RunningSandbox.with { sandbox in
            let id = try await sandbox.convert(id: "in_ledger")
            _ = try await sandbox.event(Body.lead(id: "evt_lead"))
            _ = try await sandbox.refund(id, Body.refund(id: "re_ledger", amount: "33", reason: "dispute"))
            _ = try await sandbox.refund(id, Body.refund(id: "re_ledger", amount: "33"))
            let ledger = try await sandbox.get("/_sandbox/ledger")
            #expect(ledger.status == 200)
            let conversion = ledger.json["entries"][0]
            #expect(conversion["commission_id"] == .string(id))
            #expect(conversion["sale_amount"] == .number(99))
            #expect(conversion["sale_amount_currency"] == .string("USD"))
            #expect(conversion["sales_status"] == .string("partial_refunded"))
            #expect(conversion["refunded_amount"] == .number(33))
            #expect(conversion["commission_amount"] == .number(29.7))
            #expect(conversion["net_commission_amount"] == .number(19.8))
            #expect(conversion["refund_count"] == .number(1))
            #expect(ledger.json["entries"][1]["net_commission_amount"] == .null)
            #expect(ledger.json["refund_count"] == .number(1))
            #expect(ledger.json["refund_replays"] == .number(1))
            let refund = ledger.json["refunds"][0]
            #expect(refund["conversion_id"] == .string(id))
            #expect(refund["external_event_id"] == .string("re_ledger"))
            #expect(refund["amount"] == .number(33))
            #expect(refund["commission_reversed"] == .number(9.9))
            #expect(refund["reason"] == .string("dispute"))
            #expect(refund["replays"] == .number(1))
            let stats = try await sandbox.get("/_sandbox/stats")
            #expect(stats.json["refunds"] == .number(1))
            #expect(stats.json["replays"] == .number(1))

            #expect(try await sandbox.post("/_sandbox/reset", "{}").status == 200)
            #expect(sandbox.server.refunds.isEmpty)
            #expect(try await sandbox.get("/_sandbox/ledger").json["refunds"].arrayValue.isEmpty)
            #expect(try await sandbox.refund(id, Body.refund(id: "re_ledger")).status == 404)
        }
    }
}

/// A small seeded generator, so a failing split can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
