import Hummingbird
import NIOCore

/// The `/_sandbox/…` control endpoints. They need no API key and are never rate limited or faulted.
extension SandboxCore {
    // MARK: - Ledger and stats

    func ledgerResponse(_ request: Request) -> Response {
        let limit = request.uri.queryParameters.get("limit", as: Int.self)
        let (entries, refunds) = self.ledger.withLock { ($0.entries, $0.refunds) }
        let shown = limit.map { entries.suffix(max(0, $0)) } ?? entries[...]
        let shownRefunds = limit.map { refunds.suffix(max(0, $0)) } ?? refunds[...]
        var writer = JSONWriter(capacity: 128 + shown.count * 320 + shownRefunds.count * 320)
        writer.object { object in
            object.field("count", entries.count)
            object.field("replays", entries.reduce(0) { $0 + $1.replays })
            object.field("refund_count", refunds.count)
            object.field("refund_replays", refunds.reduce(0) { $0 + $1.replays })
            object.key("entries")
            object.beginArray()
            for entry in shown {
                object.object { item in
                    item.field("external_event_id", entry.externalEventID)
                    item.field("event_name", entry.eventName)
                    item.field("event_type", entry.eventType)
                    item.field("referral_id", entry.referralID)
                    item.field("referral_status", entry.referralStatus)
                    item.field("commission_id", entry.commissionID)
                    item.key("commission_amount")
                    if let currency = entry.saleAmountCurrency, let amount = entry.commissionMinorUnits {
                        item.money(amount, currency: currency)
                    } else {
                        item.null()
                    }
                    item.field("accepted_at", entry.acceptedAt)
                    item.field("replays", entry.replays)
                    if let currency = entry.saleAmountCurrency, let sale = entry.saleMinorUnits,
                        let refunded = entry.refundedMinorUnits, let net = entry.netCommissionMinorUnits
                    {
                        item.field("sale_amount", money: sale, currency: currency)
                        item.field("sale_amount_currency", currency)
                        item.field("sales_status", entry.salesStatus)
                        item.field("refunded_amount", money: refunded, currency: currency)
                        item.field("net_commission_amount", money: net, currency: currency)
                        item.field("refund_count", entry.refundCount)
                    }
                }
            }
            object.endArray()
            object.key("refunds")
            object.beginArray()
            for refund in shownRefunds {
                object.object { item in
                    item.field("id", refund.refundID)
                    item.field("conversion_id", refund.conversionID)
                    item.field("external_event_id", refund.externalEventID)
                    item.field("amount", money: refund.amountMinorUnits, currency: refund.currency)
                    item.field("currency", refund.currency)
                    item.field(
                        "commission_reversed", money: refund.commissionReversedMinorUnits, currency: refund.currency)
                    item.field("reason", refund.reason)
                    item.field("refunded_at", refund.refundedAt)
                    item.field("sales_status", refund.salesStatus)
                    item.field("accepted_at", refund.acceptedAt)
                    item.field("replays", refund.replays)
                }
            }
            object.endArray()
        }
        return Self.json(.ok, writer)
    }

    func statsResponse() -> Response {
        let stats = self.counters.withLock { $0 }
        var writer = JSONWriter()
        writer.object { object in
            object.field("requests", stats.requests)
            object.key("by_status")
            object.object { map in
                for (status, count) in stats.byStatus.sorted(by: { $0.key < $1.key }) {
                    map.field(String(status), count)
                }
            }
            object.key("by_event_type")
            object.object { map in
                for (type, count) in stats.byEventType.sorted(by: { $0.key < $1.key }) { map.field(type, count) }
            }
            object.field("accepted", stats.accepted)
            object.field("replays", stats.replays)
            object.field("rate_limited", stats.rateLimited)
            object.field("commissions", stats.commissions)
            object.field("refunds", stats.refunds)
            object.key("faults_injected")
            object.object { map in
                for (fault, count) in stats.faultsInjected.sorted(by: { $0.key < $1.key }) { map.field(fault, count) }
            }
        }
        return Self.json(.ok, writer)
    }

    // MARK: - Faults

    func faultsResponse() -> Response {
        var writer = JSONWriter()
        let now = Self.now()
        self.faults.withLock { $0.write(to: &writer, now: now) }
        return Self.json(.ok, writer)
    }

    func updateFaults(_ request: Request) async -> Response {
        let object: [String: JSONValue]
        switch await Self.readJSON(request) {
        case .failure(let failure): return failure.response
        case .success(let value):
            guard let fields = value.objectValue else {
                return Self.error(.badRequest, "VALIDATION_ERROR", "fault settings must be a JSON object")
            }
            object = fields
        }
        let current = self.faults.withLock { $0.faults }
        switch SandboxFaults.updating(current, with: object) {
        case .failure(let failure):
            return Self.error(.badRequest, "VALIDATION_ERROR", failure.message)
        case .success(let faults):
            let now = Self.now()
            self.faults.withLock { $0.set(faults, now: now) }
            self.logger.info("faults updated", metadata: ["faults": "\(faults)"])
            return self.faultsResponse()
        }
    }

    // MARK: - Referrals

    func referralsResponse() -> Response {
        let referrals = self.ledger.withLock { $0.book.referrals }
        var writer = JSONWriter(capacity: 64 + referrals.count * 160)
        writer.object { object in
            object.key("referrals")
            object.beginArray()
            for referral in referrals { referral.write(to: &object) }
            object.endArray()
        }
        return Self.json(.ok, writer)
    }

    func addReferrals(_ request: Request) async -> Response {
        let list: [JSONValue]
        switch await Self.readJSON(request) {
        case .failure(let failure): return failure.response
        case .success(.array(let elements)): list = elements
        case .success(let value): list = [value]
        }
        var referrals: [SandboxReferral] = []
        for (index, element) in list.enumerated() {
            do throws(SandboxReferral.DecodingFailure) {
                referrals.append(try SandboxReferral(json: element))
            } catch {
                let place = list.count == 1 ? "referral" : "referral [\(index)]"
                return Self.error(.badRequest, "VALIDATION_ERROR", "\(place): \(error.message)")
            }
        }
        let failure: SandboxError? = self.ledger.withLock { state in
            do throws(SandboxError) {
                for referral in referrals { try state.addReferral(referral) }
                return nil
            } catch {
                return error
            }
        }
        if let failure { return Self.error(.conflict, "REFERRAL_EXISTS", failure.message) }
        var writer = JSONWriter()
        writer.object { object in
            object.key("referrals")
            object.beginArray()
            for referral in referrals { referral.write(to: &object) }
            object.endArray()
        }
        return Self.json(.created, writer)
    }

    // MARK: - Reset

    /// Back to the start: seed referrals, empty ledger and stats, fresh rate-limit windows and the
    /// configured faults.
    func reset() {
        let now = Self.now()
        self.ledger.withLock { $0.reset() }
        self.counters.withLock { $0 = SandboxStats() }
        self.limiter.withLock { $0 = RateLimitState(plan: self.configuration.plan) }
        self.faults.withLock { $0.set(self.configuration.faults, now: now) }
    }

    // MARK: - Helpers

    static func json(_ status: HTTPResponse.Status, _ writer: JSONWriter) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: writer.output))
        )
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        var writer = JSONWriter()
        Self.writeError(code: code, message: message, retryAfter: nil, to: &writer)
        return self.json(status, writer)
    }

    private static func readJSON(_ request: Request) async -> Result<JSONValue, ResponseFailure> {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 1 << 20)
        } catch {
            return .failure(
                ResponseFailure(response: Self.error(.contentTooLarge, "PAYLOAD_TOO_LARGE", "body over 1 MiB")))
        }
        do {
            return .success(
                try body.withUnsafeReadableBytes { (bytes) throws(JSONParser.Failure) -> JSONValue in
                    try JSONParser.parse(bytes)
                }
            )
        } catch {
            return .failure(
                ResponseFailure(
                    response: Self.error(
                        .badRequest, "VALIDATION_ERROR", "body is not valid JSON: \(error.description)"))
            )
        }
    }
}

/// A finished error response, carried through `Result`.
struct ResponseFailure: Error {
    var response: Response
}
