import Foundation
import Logging
import Testing

@testable import AffonsoAPI
@testable import AffonsoSandbox

/// The client over real sockets against an in-process sandbox on a free port: one test per outcome class.
@Suite("AffonsoClient against the sandbox")
struct AffonsoClientSandboxTests {
    static let key = "sk_test_sandbox"
    static let readOnlyKey = "sk_test_readonly"

    static func sandboxConfiguration() -> SandboxConfiguration {
        var configuration = SandboxConfiguration()
        configuration.apiKeys = [.defaultKey, SandboxAPIKey(key: readOnlyKey, scopes: [])]
        configuration.referrals = [
            SandboxReferral(id: "ref_1", affiliateID: "aff_1", customerID: "cus_1", externalUserID: "u_1"),
            SandboxReferral(id: "ref_2", affiliateID: "aff_2", customerID: "cus_2", externalUserID: "u_2"),
        ]
        return configuration
    }

    /// Runs `body` with a started sandbox and a client pointed at it.
    static func withSandbox(
        sandbox configureSandbox: (inout SandboxConfiguration) -> Void = { _ in },
        client configureClient: (inout AffonsoClientConfiguration) -> Void = { _ in },
        logger: Logger = Logger(label: "test"),
        _ body: (AffonsoClient, AffonsoSandboxServer) async throws -> Void
    ) async throws {
        var sandboxConfiguration = Self.sandboxConfiguration()
        configureSandbox(&sandboxConfiguration)
        let server = try AffonsoSandboxServer(configuration: sandboxConfiguration)
        try await server.withRunning { port in
            var configuration = AffonsoClientConfiguration(credentials: .apiKey(key))
            configuration.baseURL = "http://127.0.0.1:\(port)"
            configuration.plan = .unlimited
            configuration.maximumConnections = 8
            configureClient(&configuration)
            let client = try AffonsoClient(configuration: configuration, logger: logger)
            do {
                try await body(client, server)
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }

    static func conversion(_ id: String, customer: String = "cus_1") -> AffonsoEvent {
        var event = AffonsoEvent(eventName: "invoice_paid", eventType: .conversion)
        event.customerID = customer
        event.externalEventID = id
        event.saleAmount = 99
        event.saleAmountCurrency = "USD"
        event.occurredAt = "2026-11-25T10:00:00Z"
        event.metadata = ["stripe_invoice": .string(id)]
        return event
    }

    /// Expects the gate closed for `retryAfter` from an answer that came between `sent` and `answered`, and returns
    /// when it opens. Compared as instants, not by reading how long is left: a loaded machine may take longer than
    /// `retryAfter` between two lines of a test.
    static func expectGateClosed(
        _ limiter: RateLimiter<ContinuousClock>,
        for retryAfter: Duration,
        between sent: ContinuousClock.Instant,
        and answered: ContinuousClock.Instant,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> ContinuousClock.Instant {
        let opensAt = try #require(
            limiter.gateOpensAt, "the gate is closed for every sender", sourceLocation: sourceLocation)
        #expect(
            opensAt >= sent + retryAfter && opensAt <= answered + retryAfter,
            "the gate opens \(sent.duration(to: opensAt)) after the request was sent", sourceLocation: sourceLocation)
        return opensAt
    }

    /// Expects the last send to have taken its slot no earlier than `opensAt`: it waited for the gate.
    static func expectGranted(
        _ limiter: RateLimiter<ContinuousClock>,
        notBefore opensAt: ContinuousClock.Instant,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let granted = try #require(limiter.lastGrant, sourceLocation: sourceLocation)
        #expect(
            granted >= opensAt, "the next send went \(granted.duration(to: opensAt)) before the gate opened",
            sourceLocation: sourceLocation)
    }

    /// Polls `condition` until it holds; fails the test after `timeout`, long enough for any loaded machine.
    static func waitUntil(
        _ what: String,
        timeout: Duration = .seconds(30),
        sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("not within \(timeout): \(what)", sourceLocation: sourceLocation)
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    static func failure(_ outcome: AffonsoOutcome) throws -> AffonsoError {
        guard case .failed(let error) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            throw CancellationError()
        }
        return error
    }

    // MARK: - Delivered

    @Test("a conversion is delivered with its commission")
    func deliveredConversion() async throws {
        try await Self.withSandbox { client, server in
            let outcome = try await client.send(Self.conversion("in_1"))
            guard case .delivered(let delivery) = outcome else {
                Issue.record("expected delivered, got \(outcome)")
                return
            }
            #expect((200..<300).contains(delivery.status))
            #expect(delivery.referralID == "ref_1")
            #expect(delivery.commissionID != nil)
            #expect(delivery.commissionAmount == 29.7)
            #expect(delivery.externalEventID == "in_1")
            #expect(server.ledger.map(\.externalEventID) == ["in_1"])

            // The same external_event_id again is an idempotent replay, not a second commission.
            let replay = try await client.send(Self.conversion("in_1"))
            guard case .delivered(let replayed) = replay else {
                Issue.record("expected the replay to be delivered, got \(replay)")
                return
            }
            #expect(replayed.commissionID == delivery.commissionID)
            #expect(server.ledger.count == 1)
            #expect(server.ledger.first?.replays == 1)
        }
    }

    @Test("a trial milestone is delivered with the action and new referral status")
    func deliveredMilestone() async throws {
        try await Self.withSandbox { client, _ in
            var event = AffonsoEvent(eventName: "trial_started", eventType: .trial)
            event.externalUserID = "u_1"
            event.externalEventID = "trial_1"
            let outcome = try await client.send(event)
            guard case .delivered(let delivery) = outcome else {
                Issue.record("expected delivered, got \(outcome)")
                return
            }
            #expect(delivery.referralID == "ref_1")
            #expect(delivery.referralStatus == "trialing")
            #expect(delivery.action != nil)
            #expect(delivery.commissionID == nil)
        }
    }

    @Test("pre-encoded bytes from the rules engine are sent as they are")
    func preEncodedBody() async throws {
        try await Self.withSandbox { client, server in
            let body = #"{"event_name":"signup","event_type":"lead","customer_id":"cus_2","external_event_id":"l_1"}"#
            let sender: any AffonsoSending = client  // what the relay holds
            let result = try await sender.sendMeasured(body: Array(body.utf8), externalEventID: "l_1")
            #expect(result.outcome.isDelivered)
            #expect(result.requests == 1)
            #expect(server.ledger.first?.referralID == "ref_2")
        }
    }

    @Test("many concurrent sends over a small pool are all delivered once")
    func concurrentSends() async throws {
        try await Self.withSandbox { client, server in
            let delivered = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<200 {
                    group.addTask { try await client.send(Self.conversion("c_\(index)")).isDelivered }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(delivered == 200)
            #expect(server.ledger.count == 200)
        }
    }

    // MARK: - Failures

    @Test("a conversion without sale_amount is a validation failure naming the field")
    func validation() async throws {
        try await Self.withSandbox { client, server in
            var event = Self.conversion("bad_1")
            event.saleAmount = nil
            let error = try Self.failure(try await client.send(event))
            #expect(error.errorClass == .validation)
            #expect(error.status == 400 || error.status == 422)
            #expect(error.apiErrorCode == "VALIDATION_ERROR")
            #expect(error.message.contains("sale_amount"))
            #expect(!error.isRetriable)
            #expect(server.ledger.isEmpty)
        }
    }

    @Test("a wrong key is a 401 credentials fault that never shows the key, in errors or logs")
    func unauthorized() async throws {
        let wrongKey = "sk_live_wrong_and_secret_123"
        let (logger, logs) = CollectingLogHandler.logger()
        try await Self.withSandbox(client: { $0.credentials = .apiKey(wrongKey) }, logger: logger) { client, _ in
            let error = try Self.failure(try await client.send(Self.conversion("in_1")))
            #expect(error.errorClass == .credentials)
            #expect(error.code == .unauthorized)
            #expect(error.status == 401)
            #expect(error.message.contains("affonso.api_key"))
            for text in [error.message, "\(error)", String(reflecting: error), error.shortDescription, logs.all] {
                #expect(!text.contains(wrongKey))
            }
            #expect(!logs.all.isEmpty, "the client logs requests at debug level")
        }
    }

    @Test("a key without write:commissions is a 403 credentials fault")
    func forbidden() async throws {
        try await Self.withSandbox(client: { $0.credentials = .apiKey(Self.readOnlyKey) }) { client, _ in
            let error = try Self.failure(try await client.send(Self.conversion("in_1")))
            #expect(error.errorClass == .credentials)
            #expect(error.code == .forbidden)
            #expect(error.status == 403)
            #expect(error.message.contains("write:commissions"))
        }
    }

    @Test("a 401, then the key file is fixed: the next send re-reads it and is delivered")
    func keyFileRotation() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("affonso-key-\(UUID())")
        try Data("sk_test_revoked\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await Self.withSandbox(client: { $0.credentials = .apiKeyFile(file.path) }) { client, _ in
            let error = try Self.failure(try await client.send(Self.conversion("in_1")))
            #expect(error.status == 401)
            #expect(error.message.contains(file.path))

            try Data("\(Self.key)\n".utf8).write(to: file)
            #expect(try await client.send(Self.conversion("in_1")).isDelivered)
        }
    }

    @Test("a key file rotated before the 401 arrives is used for an immediate second try")
    func keyFileRotatedUnderneath() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("affonso-key-\(UUID())")
        try Data("sk_test_old".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await Self.withSandbox(
            sandbox: { $0.apiKeys = [SandboxAPIKey(key: "sk_test_new", scopes: [SandboxAPIKey.writeCommissions])] },
            client: { $0.credentials = .apiKeyFile(file.path) }
        ) { client, server in
            // The client read "sk_test_old" at start; the secret was rotated since.
            try Data("sk_test_new".utf8).write(to: file)
            #expect(try await client.send(Self.conversion("in_1")).isDelivered)
            #expect(server.stats.byStatus[401] == 1)
        }
    }

    @Test("requests in flight when the key file rotates all retry with the new key, not only the first 401")
    func keyFileRotatedUnderConcurrentRequests() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("affonso-key-\(UUID())")
        try Data("sk_test_old".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try await Self.withSandbox(
            sandbox: { $0.apiKeys = [SandboxAPIKey(key: "sk_test_new", scopes: [SandboxAPIKey.writeCommissions])] },
            client: { $0.credentials = .apiKeyFile(file.path) }
        ) { client, server in
            // All six are held by the sandbox, sent with the old key, when the secret is rotated; then they all get
            // their 401. Held until they arrived, however long that takes, not for a time that a loaded machine
            // may exceed either way.
            let hold = server.core.hold
            hold.engage()
            defer { hold.release() }
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<6 {
                    group.addTask { try await client.send(Self.conversion("in_rot_\(index)")).isDelivered }
                }
                try await Self.waitUntil("all six requests reached the sandbox") { hold.held == 6 }
                try Data("sk_test_new".utf8).write(to: file)
                hold.release()
                for try await delivered in group { #expect(delivered) }
            }
            #expect(server.stats.byStatus[401] == 6)
            #expect(server.stats.accepted == 6)
        }
    }

    @Test("identifiers no referral has are referral_not_found")
    func referralNotFound() async throws {
        try await Self.withSandbox { client, _ in
            let error = try Self.failure(try await client.send(Self.conversion("in_1", customer: "cus_nobody")))
            #expect(error.errorClass == .referralNotFound)
            #expect(error.status == 404)
            #expect(error.apiErrorCode == "REFERRAL_NOT_FOUND")
            #expect(error.isRetriable)
        }
    }

    @Test("identifiers of two different referrals are identifier_mismatch")
    func identifierMismatch() async throws {
        try await Self.withSandbox { client, _ in
            var event = Self.conversion("in_1")
            event.externalUserID = "u_2"  // customer cus_1 is ref_1, user u_2 is ref_2
            let error = try Self.failure(try await client.send(event))
            #expect(error.errorClass == .identifierMismatch)
            #expect(error.status == 409)
            #expect(!error.isRetriable)
        }
    }

    @Test("a 429 closes the shared gate for Retry-After; the next send waits for it and is delivered")
    func rateLimited() async throws {
        try await Self.withSandbox { client, server in
            var faults = SandboxFaults()
            faults.rateLimitNext = 1
            faults.rateLimitRetryAfter = .seconds(1)
            server.setFaults(faults)

            let sent = ContinuousClock.now
            let error = try Self.failure(try await client.send(Self.conversion("in_1")))
            let answered = ContinuousClock.now
            #expect(error.errorClass == .rateLimited)
            #expect(error.status == 429)
            #expect(error.retryAfter == .seconds(1))
            let opensAt = try Self.expectGateClosed(client.rateLimiter, for: .seconds(1), between: sent, and: answered)

            let next = try await client.sendMeasured(body: try Self.conversion("in_1").jsonBody())
            #expect(next.outcome.isDelivered)
            try Self.expectGranted(client.rateLimiter, notBefore: opensAt)
            #expect(client.rateLimiter.gateRemaining == nil)
            #expect(server.ledger.count == 1)
        }
    }

    /// The client's pace is checked where the client sets it, at the instants its sends took their slots. The
    /// sandbox's 429 count is not: the sandbox counts a request when its handler runs, and in a starved test process
    /// the first burst (new connections, handlers not yet scheduled) can reach it half a second or more late, bunched
    /// with the sends the limiter let out a second after it. What a user sees then is a 429 that the gate waits out.
    @Test("a client paced to the launch plan spaces its sends to it; a 429 from the sandbox enforcing it is waited out")
    func pacedToPlan() async throws {
        let count = 20
        let plan = try #require(AffonsoPlan.launch.rateLimit)
        let attempts = 5
        try await Self.withSandbox(sandbox: { $0.plan = .launch }, client: { $0.plan = .launch }) { client, server in
            let sends = try await withThrowingTaskGroup(of: PacedSend.self) { group in
                for index in 0..<count {
                    group.addTask {
                        let body = try Self.conversion("p_\(index)").jsonBody()
                        var send = PacedSend()
                        for _ in 0..<attempts {
                            let started = ContinuousClock.now
                            let result = try await client.sendMeasured(body: body, externalEventID: "p_\(index)")
                            send.slots.append(started + result.rateLimitWait)
                            send.outcome = result.outcome
                            // A 429 is not an attempt: the relay sends the same body again once the gate opens.
                            guard result.outcome.errorClass == .rateLimited else { break }
                            send.rateLimited += 1
                        }
                        return send
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for send in sends where !(send.outcome?.isDelivered ?? false) {
                Issue.record("not delivered within \(attempts) sends: \(String(describing: send.outcome))")
            }
            #expect(Set(server.ledger.compactMap(\.externalEventID)) == Set((0..<count).map { "p_\($0)" }))
            #expect(server.ledger.count == count)
            // Every 429 reached the client and was sent again: none surfaced as a failure, none was lost.
            #expect(server.stats.rateLimited == sends.reduce(0) { $0 + $1.rateLimited })

            // A burst at once, then the bucket's refill: the last first send no sooner than that allows. A client
            // that ignores the plan sends all of them within milliseconds.
            let firstSlots = sends.compactMap(\.slots.first).sorted()
            let refill = Duration.seconds(Double(count - plan.burst) * 60 / Double(plan.perMinute))
            let span = try #require(firstSlots.first).duration(to: try #require(firstSlots.last))
            #expect(span >= refill - .milliseconds(50), "\(count) sends took their slots within \(span)")
        }
    }

    struct PacedSend: Sendable {
        /// When each send of the event took its rate-limit slot (measured from before the call: never later).
        var slots: [ContinuousClock.Instant] = []
        var outcome: AffonsoOutcome?
        var rateLimited = 0
    }

    @Test("a 5xx is api_5xx and retriable")
    func serverError() async throws {
        try await Self.withSandbox { client, server in
            var faults = SandboxFaults()
            faults.errorRate = 1
            server.setFaults(faults)
            let error = try Self.failure(try await client.send(Self.conversion("in_1")))
            #expect(error.errorClass == .api5xx)
            #expect(error.status == 500)
            #expect(error.isRetriable)
            #expect(server.ledger.isEmpty)
        }
    }

    @Test("no response within affonso.timeout is a timeout")
    func timeout() async throws {
        try await Self.withSandbox(client: { $0.timeout = .milliseconds(300) }) { client, server in
            var faults = SandboxFaults()
            faults.timeoutRate = 1
            faults.timeoutHold = .seconds(2)
            server.setFaults(faults)
            let error = try Self.failure(try await client.send(Self.conversion("in_1")))
            #expect(error.errorClass == .timeout)
            #expect(error.status == nil)
            #expect(error.message.contains("affonso.timeout"))
            #expect(error.isRetriable)
        }
    }

    @Test("nothing listening is a connection failure")
    func connectionRefused() async throws {
        var configuration = AffonsoClientConfiguration(credentials: .apiKey(Self.key))
        configuration.baseURL = "http://127.0.0.1:1"
        configuration.connectTimeout = .seconds(1)
        let client = try AffonsoClient(configuration: configuration)
        let outcome = try await client.send(Self.conversion("in_1"))
        try await client.shutdown()
        let error = try Self.failure(outcome)
        #expect(error.errorClass == .connection)
        #expect(error.status == nil)
        #expect(error.message.contains("127.0.0.1:1"))
        #expect(!error.message.contains(Self.key))
        #expect(error.isRetriable)
    }
}
