import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The request handling of the sandbox, independent of how it is served. Each piece of mutable
/// state sits in its own `Mutex`, held only for a few dictionary operations; JSON parsing and
/// encoding happen outside every lock.
final class SandboxCore: Sendable {
    let configuration: SandboxConfiguration
    let logger: Logger
    private let scopesByKey: [String: Set<String>]
    let ledger: Mutex<LedgerState>
    let limiter: Mutex<RateLimitState>
    let faults: Mutex<FaultState>
    let counters: Mutex<SandboxStats>
    /// Where API requests wait while a test holds them (never engaged outside tests).
    let hold = SandboxRequestHold()

    init(configuration: SandboxConfiguration, logger: Logger) throws(SandboxError) {
        self.configuration = configuration
        self.logger = logger
        var scopesByKey: [String: Set<String>] = [:]
        for key in configuration.apiKeys { scopesByKey[key.key, default: []].formUnion(key.scopes) }
        self.scopesByKey = scopesByKey
        self.ledger = Mutex(try LedgerState(configuration: configuration))
        self.limiter = Mutex(RateLimitState(plan: configuration.plan))
        self.faults = Mutex(FaultState(faults: configuration.faults, now: Self.now()))
        self.counters = Mutex(SandboxStats())
    }

    /// Wall-clock Unix time in seconds.
    static func now() -> Double { Date().timeIntervalSince1970 }

    // MARK: - POST /v1/events

    func handleEvent(_ request: Request) async -> Response {
        await self.handle(request, operation: "POST /v1/events") { parsed in
            let event: SandboxEvent
            switch SandboxEvent.validate(parsed) {
            case .success(let valid):
                event = valid
            case .failure(let failure):
                return (Self.invalid(failure, parsed), .none)
            }
            let nowMilliseconds = Int64(Self.now() * 1000)
            switch self.ledger.withLock({ $0.process(event, nowMilliseconds: nowMilliseconds) }) {
            case .accepted(let result):
                return (.event(result), .accepted(event.eventType.rawValue))
            case .replayed(let result):
                return (.event(result), .replay)
            case .referralNotFound(let message):
                return (.error(.notFound, "REFERRAL_NOT_FOUND", message), .none)
            case .identifierMismatch(let message):
                return (.error(.conflict, "IDENTIFIER_MISMATCH", message), .none)
            }
        }
    }

    // MARK: - POST /v1/conversions/{id}/refund

    func handleRefund(_ request: Request, conversionID: String) async -> Response {
        await self.handle(request, operation: "POST /v1/conversions/{id}/refund") { parsed in
            let refund: SandboxRefundRequest
            switch SandboxRefundRequest.validate(parsed) {
            case .success(let valid):
                refund = valid
            case .failure(let failure):
                return (Self.invalid(failure, parsed), .none)
            }
            let nowMilliseconds = Int64(Self.now() * 1000)
            let outcome = self.ledger.withLock {
                $0.refund(refund, conversionID: conversionID, nowMilliseconds: nowMilliseconds)
            }
            switch outcome {
            case .accepted(let result):
                return (.refund(result), .refund)
            case .replayed(let result):
                return (.refund(result), .replay)
            case .conversionNotFound(let message):
                return (.error(.notFound, "CONVERSION_NOT_FOUND", message), .none)
            case .invalid(let message):
                return (.error(.unprocessableContent, "VALIDATION_ERROR", message), .none)
            }
        }
    }

    // MARK: - Shared request handling

    /// 400 for a body that is no JSON object, 422 for invalid fields.
    private static func invalid(_ failure: ValidationFailure, _ parsed: JSONValue) -> Reply {
        let status: HTTPResponse.Status = parsed.objectValue == nil ? .badRequest : .unprocessableContent
        return .error(status, "VALIDATION_ERROR", failure.message)
    }

    /// What a handled request adds to the stats.
    private enum Tally {
        case none
        /// A newly accepted event of this `event_type`.
        case accepted(String)
        /// A newly accepted refund.
        case refund
        /// Answered from the idempotency store.
        case replay
    }

    /// A test's hold, faults, authorization, the rate limit, reading and parsing the body, in that order, for every
    /// API endpoint; then `apply` decides on the parsed body.
    private func handle(
        _ request: Request,
        operation: String,
        apply: (JSONValue) -> (Reply, Tally)
    ) async -> Response {
        await self.hold.pass()
        var fault: String?
        let plan = self.faults.withLock { $0.decide(now: Self.now()) }
        if let delay = plan.delay {
            fault = "latency"
            do {
                try await Task.sleep(for: delay)
            } catch {
                // Cancelled: the server is stopping or the client left. The request is not processed.
                return self.finish(
                    .error(.serviceUnavailable, "INTERNAL_ERROR", "the sandbox stopped before answering; retry later"),
                    fault: "latency"
                )
            }
        }
        switch plan.action {
        case .none:
            break
        case .outage:
            return self.finish(
                .error(.serviceUnavailable, "INTERNAL_ERROR", "the sandbox is simulating an outage; retry later"),
                fault: "outage"
            )
        case .rateLimit(let retryAfter):
            return self.finish(.rateLimited(retryAfter: retryAfter, remaining: 0), fault: "rate_limit")
        case .timeout(let hold):
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: hold) }
            return self.finish(
                .error(.gatewayTimeout, "INTERNAL_ERROR", "the sandbox simulated a request that timed out upstream"),
                fault: "timeout"
            )
        case .error:
            return self.finish(
                .error(.internalServerError, "INTERNAL_ERROR", "the sandbox injected a server error; retry"),
                fault: "error"
            )
        }
        switch self.authorize(request.headers[.authorization], operation: operation) {
        case .allowed: break
        case .denied(let status, let code, let message):
            return self.finish(.error(status, code, message), fault: fault)
        }
        let decision = self.limiter.withLock { $0.acquire(now: Self.now()) }
        guard decision.allowed else {
            return self.finish(
                .rateLimited(retryAfter: decision.retryAfter, remaining: decision.remaining), fault: fault)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: self.configuration.maximumBodySize)
        } catch is NIOTooManyBytesError {
            return self.finish(
                .error(
                    .contentTooLarge,
                    "PAYLOAD_TOO_LARGE",
                    "request body is larger than \(self.configuration.maximumBodySize) bytes; send one object per request"
                ),
                fault: fault,
                decision: decision
            )
        } catch {
            return self.finish(
                .error(.badRequest, "VALIDATION_ERROR", "could not read the request body: \(error)"),
                fault: fault,
                decision: decision
            )
        }
        let parsed: JSONValue
        do {
            parsed = try body.withUnsafeReadableBytes { (bytes) throws(JSONParser.Failure) -> JSONValue in
                try JSONParser.parse(bytes)
            }
        } catch {
            let message =
                body.readableBytes == 0 ? "request body is empty" : "body is not valid JSON: \(error.description)"
            return self.finish(
                .error(.badRequest, "VALIDATION_ERROR", message + "; send one JSON object"),
                fault: fault,
                decision: decision
            )
        }
        let (reply, tally) = apply(parsed)
        return self.finish(reply, fault: fault, decision: decision, tally: tally)
    }

    // MARK: - Authorization

    private enum Authorization {
        case allowed
        case denied(HTTPResponse.Status, String, String)
    }

    private func authorize(_ header: String?, operation: String) -> Authorization {
        guard let header else {
            return .denied(
                .unauthorized,
                "UNAUTHORIZED",
                "missing Authorization header; send Authorization: Bearer <API key>"
            )
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .denied(
                .unauthorized,
                "UNAUTHORIZED",
                "Authorization header is not a bearer token; send Authorization: Bearer <API key>"
            )
        }
        guard let scopes = self.scopesByKey[String(parts[1])] else {
            return .denied(
                .unauthorized, "UNAUTHORIZED", "API key not recognized; check the key (it is not shown here)")
        }
        guard scopes.contains(SandboxAPIKey.writeCommissions) else {
            return .denied(
                .forbidden,
                "FORBIDDEN",
                "API key lacks the write:commissions permission that \(operation) needs; grant it to the key"
            )
        }
        return .allowed
    }

    // MARK: - Responses

    private enum Reply {
        case event(EventResult)
        case refund(RefundResult)
        case error(HTTPResponse.Status, String, String)
        case rateLimited(retryAfter: Int, remaining: Int)
    }

    private func finish(
        _ reply: Reply,
        fault: String?,
        decision: RateLimitState.Decision? = nil,
        tally: Tally = .none
    ) -> Response {
        var writer = JSONWriter()
        var headers = HTTPFields()
        headers.reserveCapacity(6)
        headers[.contentType] = "application/json"
        let limits = decision ?? self.limiter.withLock { $0.peek(now: Self.now()) }
        let status: HTTPResponse.Status
        switch reply {
        case .event(let result):
            status = .ok
            writer.object { object in
                object.field("success", true)
                object.key("data")
                result.writeData(to: &object)
            }
        case .refund(let result):
            status = .ok
            writer.object { object in
                object.field("success", true)
                object.key("data")
                result.writeData(to: &object)
            }
        case .error(let errorStatus, let code, let message):
            status = errorStatus
            Self.writeError(code: code, message: message, retryAfter: nil, to: &writer)
        case .rateLimited(let retryAfter, _):
            status = .tooManyRequests
            headers[.retryAfter] = String(retryAfter)
            Self.writeError(
                code: "RATE_LIMIT_EXCEEDED",
                message: "rate limit of the \(self.configuration.plan.name) plan exceeded; retry after \(retryAfter)s",
                retryAfter: retryAfter,
                to: &writer
            )
        }
        var remaining = limits.remaining
        if case .rateLimited(_, let left) = reply { remaining = left }
        headers[.rateLimitLimit] = String(limits.limit)
        headers[.rateLimitRemaining] = String(remaining)
        headers[.rateLimitReset] = String(limits.reset)
        self.counters.withLock { stats in
            stats.requests += 1
            stats.byStatus[status.code, default: 0] += 1
            if status == .tooManyRequests { stats.rateLimited += 1 }
            if let fault { stats.faultsInjected[fault, default: 0] += 1 }
            switch tally {
            case .none:
                break
            case .accepted(let eventType):
                stats.accepted += 1
                stats.byEventType[eventType, default: 0] += 1
                if eventType == "conversion" { stats.commissions += 1 }
            case .refund:
                stats.refunds += 1
            case .replay:
                stats.replays += 1
            }
        }
        return Response(
            status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: writer.output)))
    }

    static func writeError(code: String, message: String, retryAfter: Int?, to writer: inout JSONWriter) {
        writer.object { object in
            object.field("success", false)
            object.key("error")
            object.object { error in
                error.field("code", code)
                error.field("message", message)
                if let retryAfter { error.field("retryAfter", retryAfter) }
            }
        }
    }
}

extension HTTPField.Name {
    static let rateLimitLimit = HTTPField.Name("X-RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("X-RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("X-RateLimit-Reset")!
}
