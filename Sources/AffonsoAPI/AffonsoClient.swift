import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

// MARK: - AffonsoClient

/// Sends events to Affonso's `POST /v1/events`, and refunds to `POST /v1/conversions/{id}/refund`
/// (``sendRefund(conversionID:body:externalEventID:)``), and maps every response or transport failure to exactly
/// one ``AffonsoOutcome``. Events and refunds share everything below.
///
/// - HTTP/1.1 over ``HTTP1Transport``: one keep-alive connection pool sized to
///   ``AffonsoClientConfiguration/maximumConnections`` (the relay's `max_in_flight`), the request head encoded
///   once, one write per request, connect and total timeouts, TLS certificate verification on, redirects not
///   followed (a 3xx is classified like any other status).
/// - Headers: `Authorization: Bearer <key>`, `Content-Type: application/json`,
///   `User-Agent: affonso-relay/<version>`. The key never appears in errors, descriptions or logs.
/// - Every send first takes a slot from ``rateLimiter`` (shared by all senders); responses feed its header
///   pacing, and a 429 closes its gate for `Retry-After`. The 429 is returned as `.failed` with class
///   `rate_limited`: send the same body again (it is not an attempt) and the next send waits for the gate.
/// - With an `api_key_file`, a 401 or 403 re-reads the file; if the key changed the request is sent once more
///   with it, otherwise every later send re-reads the file until a request succeeds.
/// - A 2xx whose body cannot be read (the connection closed, broke or stalled after the head) is never sent again
///   blindly: with an `external_event_id` it is `.failed` with class `timeout` or `connection` and status 2xx
///   (sending it again is safe, the API returns the first result); without one it is `.delivered` with
///   ``AffonsoDelivery/isBodyUnreadable`` and a warning. Both are counted in
///   `affonso_relay_unreadable_success_total{action="resend"|"assume_delivered"}`.
///
/// Call ``shutdown()`` when done.
public final class AffonsoClient: Sendable {
    /// The version sent in `User-Agent`.
    public static let version = "0.1.0"

    /// The configuration the client was created with.
    public let configuration: AffonsoClientConfiguration
    /// The shared limiter every send goes through.
    public let rateLimiter: RateLimiter<ContinuousClock>
    /// The full URL events are posted to (`<base_url>/v1/events`).
    public let endpoint: String
    /// The base URL's path without a trailing `/` (empty for `https://api.affonso.io`), for refund paths.
    let basePath: String

    private let transport: HTTP1Transport

    /// The executors of the transport's event loops: a task preferring one of them (`Task(executorPreference:)`)
    /// sends without a thread hop per request.
    public var executors: [EventLoopTaskExecutor] { transport.executors }
    private let logger: Logger
    /// Told every key the client reads (at start and after each re-read of the key file), before it is used.
    let keyObserver: @Sendable (String) -> Void
    let key: Mutex<KeyState>
    /// The header and body fields whose odd value was logged already: each is logged once per client.
    private let loggedOddFields = Mutex<Set<String>>([])
    /// 2xx answers whose body could not be read, by what the client did: sent again (the event has an
    /// `external_event_id`) or taken as delivered.
    private let unreadableSuccesses: (resend: Counter, assumeDelivered: Counter)

    /// The metric counting 2xx answers whose body could not be read.
    public static let unreadableSuccessMetric = "affonso_relay_unreadable_success_total"

    struct KeyState {
        var current: String
        var needsReload = false
    }

    /// Creates a client; reads the key file (if any) and validates the configuration.
    ///
    /// - Parameters:
    ///   - configuration: where and how to send.
    ///   - logger: receives debug lines per request and warnings about credentials; never the key.
    ///   - metricsFactory: where the client's own series (``unreadableSuccessMetric``) go. Default: the
    ///     bootstrapped metrics system.
    ///   - keyObserver: told every key read (the inline key, the key file's at start and after every re-read, so
    ///     also each rotated key) before it is sent; the relay adds them to its secret scrubber.
    /// - Throws: ``AffonsoError`` with class `configuration` for an invalid or insecure base URL or limits, or
    ///   class `credentials` when the key is empty or its file cannot be read.
    public init(
        configuration: AffonsoClientConfiguration,
        logger: Logger = Logger(label: "affonso-relay.affonso"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        keyObserver: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(AffonsoError) {
        self.endpoint = try Self.validatedEndpoint(configuration)
        self.basePath = Self.basePath(of: configuration.baseURL)
        try Self.validateLimits(configuration)
        let initialKey = try Self.readKey(configuration.credentials)
        keyObserver(initialKey)
        self.keyObserver = keyObserver
        self.configuration = configuration
        self.logger = logger
        self.key = Mutex(KeyState(current: initialKey))
        self.unreadableSuccesses = (
            Counter(
                label: Self.unreadableSuccessMetric, dimensions: [("action", "resend")], factory: metricsFactory),
            Counter(
                label: Self.unreadableSuccessMetric, dimensions: [("action", "assume_delivered")],
                factory: metricsFactory)
        )
        self.rateLimiter = RateLimiter(
            rateLimit: configuration.effectiveRateLimit,
            clock: ContinuousClock(),
            maximumWait: configuration.maximumRetryAfter,
            fleet: configuration.rateLimitScope == .fleet ? FleetRateShare.Configuration() : nil
        )

        do {
            self.transport = try HTTP1Transport(
                url: endpoint,
                maximumConnections: configuration.maximumConnections,
                connectTimeout: configuration.connectTimeout,
                userAgent: configuration.userAgent,
                maximumResponseBytes: configuration.maximumResponseBytes
            )
        } catch {
            throw AffonsoError(
                code: .invalidConfiguration,
                message:
                    "cannot use affonso.base_url '\(AffonsoClientConfiguration.shownURL(configuration.baseURL))': \(error)",
                underlying: error
            )
        }
    }

    /// Closes every connection. In-flight sends fail with class `connection`.
    public func shutdown() async throws {
        transport.shutdown()
    }

    // MARK: - Send

    /// Sends one event.
    ///
    /// - Parameter event: the event; absent fields are omitted.
    /// - Returns: the outcome; never throws for API or transport failures.
    /// - Throws: `CancellationError` only, when the calling task is cancelled.
    public func send(_ event: AffonsoEvent) async throws(CancellationError) -> AffonsoOutcome {
        let body: [UInt8]
        do {
            body = try event.jsonBody()
        } catch {
            return .failed(error)
        }
        return try await send(body: body, externalEventID: event.externalEventID)
    }

    /// Sends one pre-encoded JSON object, e.g. the bytes the rules engine produced, without re-modelling it.
    ///
    /// - Parameters:
    ///   - body: a JSON object with the fields of AFFONSO_API.md.
    ///   - externalEventID: the body's `external_event_id`, for log lines, and to decide whether a 2xx whose body
    ///     cannot be read may be sent again (only with one).
    /// - Returns: the outcome; never throws for API or transport failures.
    /// - Throws: `CancellationError` only, when the calling task is cancelled.
    public func send(body: [UInt8], externalEventID: String? = nil) async throws(CancellationError) -> AffonsoOutcome {
        try await sendMeasured(body: body, externalEventID: externalEventID).outcome
    }

    /// Like ``send(body:externalEventID:)``, and also reports the time spent waiting for the rate limiter and
    /// in HTTP, for metrics.
    ///
    /// - Parameters:
    ///   - body: a JSON object with the fields of AFFONSO_API.md.
    ///   - externalEventID: the body's `external_event_id`, for log lines, and to decide whether a 2xx whose body
    ///     cannot be read may be sent again (only with one).
    /// - Returns: the outcome with its timings.
    /// - Throws: `CancellationError` only, when the calling task is cancelled.
    public func sendMeasured(
        body: [UInt8],
        externalEventID: String? = nil
    ) async throws(CancellationError) -> AffonsoSendResult {
        try await sendMeasured(request: .event, body: body, externalEventID: externalEventID)
    }

    /// The one way every request goes: rate limiter, key, transport, classification, one re-send after a rotated
    /// key file.
    func sendMeasured(
        request kind: RequestKind,
        body: [UInt8],
        externalEventID: String?
    ) async throws(CancellationError) -> AffonsoSendResult {
        var (result, usedKey) = try await sendOnce(kind: kind, body: body, externalEventID: externalEventID)
        if case .failed(let error) = result.outcome, error.errorClass == .credentials,
            reloadKeyAfterRejection(of: usedKey)
        {
            logger.warning(
                "Affonso rejected the API key; the key file changed, sending again with the new key",
                metadata: ["status": "\(error.status ?? 0)"]
            )
            let (second, _) = try await sendOnce(kind: kind, body: body, externalEventID: externalEventID)
            result = AffonsoSendResult(
                outcome: second.outcome,
                rateLimitWait: result.rateLimitWait + second.rateLimitWait,
                requestDuration: result.requestDuration + second.requestDuration,
                requests: 2
            )
        }
        return result
    }

    private func sendOnce(
        kind: RequestKind,
        body: [UInt8],
        externalEventID: String?
    ) async throws(CancellationError) -> (AffonsoSendResult, usedKey: String?) {
        let waited: Duration
        do {
            waited = try await rateLimiter.acquire()
        } catch {
            throw CancellationError()
        }
        let started = ContinuousClock.now
        let outcome: AffonsoOutcome
        var usedKey: String?
        switch Result(catching: { () throws(AffonsoError) -> String in try currentKey() }) {
        case .success(let apiKey):
            usedKey = apiKey
            outcome = try await request(kind: kind, body: body, apiKey: apiKey, externalEventID: externalEventID)
        case .failure(let error):
            outcome = .failed(error)
        }
        let result = AffonsoSendResult(
            outcome: outcome,
            rateLimitWait: waited,
            requestDuration: started.duration(to: .now),
            requests: 1
        )
        return (result, usedKey)
    }

    private func request(
        kind: RequestKind,
        body: [UInt8],
        apiKey: String,
        externalEventID: String?
    ) async throws(CancellationError) -> AffonsoOutcome {
        let path: String?
        let url: String
        switch kind {
        case .event:
            (path, url) = (nil, endpoint)
        case .refund(let conversionID):
            path = refundPath(conversionID: conversionID)
            url = refundEndpoint(conversionID: conversionID)
        }
        let status: Int
        let headers: HTTPHeaders
        let responseBody: ByteBuffer
        do {
            let response = try await transport.post(
                path: path,
                body: body,
                apiKey: apiKey,
                deadline: .now() + TimeAmount(configuration.timeout)
            )
            status = response.status
            headers = response.headers
            responseBody = response.body
        } catch {
            if Task.isCancelled { throw CancellationError() }
            if let error = error as? HTTP1TransportError, error.isUnreadableSuccess {
                return unreadableSuccess(error, kind: kind, body: body, externalEventID: externalEventID)
            }
            let failure = transportError(error, url: url)
            logger.debug(
                "Affonso request failed",
                metadata: ["class": "\(failure.errorClass)", "external_event_id": "\(externalEventID ?? "")"]
            )
            return .failed(failure)
        }

        // A 429's Retry-After is the authority on when to send again; its X-RateLimit-* would double the wait.
        if status != 429 { observeRateLimitHeaders(headers) }
        let outcome = Self.outcome(
            status: status,
            body: responseBody.readableBytesView,
            retryAfterHeader: headers.first(name: "Retry-After"),
            context: .init(endpoint: url, keyFile: configuration.credentials.filePath, apiKey: apiKey, kind: kind),
            maximumWait: configuration.maximumRetryAfter,
            odd: logOddValue
        )
        switch outcome {
        case .delivered:
            markKeyAccepted()
        case .failed(let error):
            if error.errorClass == .rateLimited {
                rateLimiter.closeGate(for: error.retryAfter ?? .seconds(1))
            }
        }
        // The metadata is built only when debug lines are written (not per request at the default level).
        if logger.logLevel <= .debug {
            var metadata: Logger.Metadata = [
                "status": "\(status)", "class": "\(outcome.errorClass?.rawValue ?? "delivered")",
                "external_event_id": "\(externalEventID ?? "")",
            ]
            if case .refund(let conversionID) = kind { metadata["conversion_id"] = "\(conversionID)" }
            logger.debug("Affonso response", metadata: metadata)
        }
        return outcome
    }

    // MARK: - Rate-limit headers

    private func observeRateLimitHeaders(_ headers: HTTPHeaders) {
        guard
            let observation = RateLimitSignals.observation(
                limit: headers.first(name: "X-RateLimit-Limit"),
                remaining: headers.first(name: "X-RateLimit-Remaining"),
                reset: headers.first(name: "X-RateLimit-Reset"),
                now: Date(),
                maximumWait: configuration.maximumRetryAfter,
                odd: logOddValue
            )
        else { return }
        rateLimiter.observe(
            limit: observation.limit, remaining: observation.remaining, resetIn: observation.resetIn,
            window: observation.window)
    }

    /// Logs an out-of-range or unreadable value from the API once per field, so a misbehaving proxy or API
    /// cannot flood the log.
    private func logOddValue(_ odd: RateLimitSignals.OddValue) {
        guard loggedOddFields.withLock({ $0.insert(odd.field).inserted }) else { return }
        logger.warning(
            "Affonso sent an odd \(odd.field); \(odd.action) (logged once per field)",
            metadata: ["field": "\(odd.field)", "value": "\(odd.value)"]
        )
    }

    // MARK: - Unreadable successes

    /// The outcome of a 2xx whose body could not be read. The API processed the event, so sending it again is a
    /// second request: safe only with an `external_event_id`, which the API deduplicates (the second answer is the
    /// first one's result). Without one, sending again could count the event twice, so it counts as delivered.
    private func unreadableSuccess(
        _ error: HTTP1TransportError,
        kind: RequestKind,
        body: [UInt8],
        externalEventID: String?
    ) -> AffonsoOutcome {
        let status = error.responseStatus ?? 200
        markKeyAccepted()
        if let externalEventID, !externalEventID.isEmpty {
            unreadableSuccesses.resend.increment()
            let text =
                "Affonso answered HTTP \(status) but its body could not be read (\(error.message)); sending "
                + "\(kind.noun) again with the same external_event_id, which Affonso deduplicates"
            logger.notice(
                "\(text)",
                metadata: ["status": "\(status)", "external_event_id": "\(externalEventID)"]
            )
            let isTimeout = error.code == .timeout
            return .failed(
                AffonsoError(
                    code: isTimeout ? .timeout : .connection,
                    message: "Affonso answered HTTP \(status) but the body "
                        + (isTimeout ? "did not arrive within affonso.timeout (\(configuration.timeout))" : "broke off")
                        + " (\(error.message)); \(kind.noun) was probably processed and is sent again with the "
                        + "same external_event_id, which Affonso deduplicates",
                    status: status,
                    underlying: error
                ))
        }
        unreadableSuccesses.assumeDelivered.increment()
        if case .refund(let conversionID) = kind {
            let text =
                "Affonso answered HTTP \(status) but its body could not be read (\(error.message)); the refund has no "
                + "external_event_id, so sending it again could refund twice: taken as delivered. Check conversion "
                + "\(conversionID) in Affonso, and give refunds an external_event_id"
            logger.warning(
                "\(text)",
                metadata: ["status": "\(status)", "conversion_id": "\(conversionID)"]
            )
            return .delivered(AffonsoDelivery(status: status, responseBody: [], isBodyUnreadable: true))
        }
        let event = try? JSONDecoder().decode(EventName.self, from: Data(body))
        let text =
            "Affonso answered HTTP \(status) but its body could not be read (\(error.message)); the event has no "
            + "external_event_id, so sending it again could count it twice: taken as delivered. Check it in Affonso, "
            + "and give the event an external_event_id"
        logger.warning(
            "\(text)",
            metadata: [
                "status": "\(status)", "event_name": "\(event?.eventName ?? "")",
                "event_type": "\(event?.eventType ?? "milestone")",
            ]
        )
        return .delivered(AffonsoDelivery(status: status, responseBody: [], isBodyUnreadable: true))
    }

    /// The fields that name an event in the warning about an unreadable success.
    private struct EventName: Decodable {
        var eventName: String?
        var eventType: String?

        private enum CodingKeys: String, CodingKey {
            case eventName = "event_name"
            case eventType = "event_type"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            eventName = try? container.decodeIfPresent(String.self, forKey: .eventName)
            eventType = try? container.decodeIfPresent(String.self, forKey: .eventType)
        }
    }

    // MARK: - Transport errors

    private func transportError(_ error: any Error, url endpoint: String) -> AffonsoError {
        let timeoutText = "\(configuration.timeout)"
        if let error = error as? HTTP1TransportError {
            switch error.code {
            case .timeout:
                return AffonsoError(
                    code: .timeout,
                    message: "no complete response from \(endpoint) within affonso.timeout (\(timeoutText)); "
                        + "the request may or may not have been processed and will be retried with the same "
                        + "external_event_id",
                    underlying: error
                )
            case .connectTimeout:
                return AffonsoError(
                    code: .connection,
                    message: "could not connect to \(endpoint) within \(configuration.connectTimeout) (\(error)); "
                        + "check affonso.base_url and the network path to the API",
                    underlying: error
                )
            default: break
            }
        }
        return AffonsoError(
            code: .connection,
            message: "could not reach \(endpoint): \(error); check affonso.base_url, DNS, TLS and the network "
                + "path to the API",
            underlying: error
        )
    }
}

// MARK: - Time conversions

extension TimeAmount {
    /// `duration` in nanoseconds, saturating at `Int64`'s range (about 292 years) instead of trapping.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else {
            self = .nanoseconds(seconds < 0 ? .min : .max)
            return
        }
        let (total, overflowAdding) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        self = .nanoseconds(overflowAdding ? (seconds < 0 ? .min : .max) : total)
    }
}
