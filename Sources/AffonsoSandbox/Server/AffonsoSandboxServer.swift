import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The Affonso API sandbox: `POST /v1/events` and `POST /v1/conversions/{id}/refund` as docs/affonso.md specifies
/// them, plus `/_sandbox/…`
/// control endpoints for faults, the ledger and stats.
///
/// Run it as a `Service` in a `ServiceGroup`, or call `withRunning` in tests:
///
/// ```swift
/// let server = try AffonsoSandboxServer(configuration: configuration)
/// try await server.withRunning { port in
///     // POST http://127.0.0.1:\(port)/v1/events
/// }
/// ```
public final class AffonsoSandboxServer: Service, Sendable {
    let core: SandboxCore
    private let listening = Mutex(ListeningState.notStarted([]))

    private enum ListeningState {
        case notStarted([CheckedContinuation<Int, any Error>])
        case listening(Int)
        case failed(any Error)
    }

    /// Creates a server; nothing listens until `run()`.
    /// - Parameters:
    ///   - configuration: address, plan, keys, referrals and faults.
    ///   - logger: logs start-up and fault changes; never API keys.
    /// - Throws: `SandboxError` when two seed referrals share an id or identifier.
    public init(
        configuration: SandboxConfiguration,
        logger: Logger = Logger(label: "affonso-relay.sandbox")
    ) throws(SandboxError) {
        self.core = try SandboxCore(configuration: configuration, logger: logger)
    }

    public var configuration: SandboxConfiguration { self.core.configuration }

    /// Serves until cancelled or gracefully shut down.
    public func run() async throws {
        let application = Application(
            router: self.makeRouter(),
            configuration: ApplicationConfiguration(
                address: .hostname(self.configuration.host, port: self.configuration.port),
                serverName: "affonso-sandbox",
                backlog: 1024
            ),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port ?? self.configuration.port
                self.markListening(port)
            },
            logger: self.core.logger
        )
        do {
            try await application.run()
        } catch {
            self.markFailed(error)
            throw error
        }
        self.markFailed(CancellationError())
    }

    /// Waits until the server accepts connections and returns its port (the bound one when the
    /// configured port is 0).
    /// - Throws: the start-up error when the server could not listen.
    public func waitUntilListening() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let result: Result<Int, any Error>? = self.listening.withLock { state in
                switch state {
                case .notStarted(var waiters):
                    waiters.append(continuation)
                    state = .notStarted(waiters)
                    return nil
                case .listening(let port):
                    return .success(port)
                case .failed(let error):
                    return .failure(error)
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }

    /// Runs the server in a `ServiceGroup`, calls `body` with its port once it listens, then shuts it
    /// down gracefully.
    /// - Throws: the server's start-up error, or what `body` throws.
    public func withRunning<Value: Sendable>(
        _ body: (_ port: Int) async throws -> Value
    ) async throws -> Value {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [self], logger: self.core.logger)
        )
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let port = try await self.waitUntilListening()
                let value = try await body(port)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return value
            } catch {
                await group.triggerGracefulShutdown()
                tasks.cancelAll()
                throw error
            }
        }
    }

    // MARK: - In-process inspection

    /// Accepted events, oldest first.
    public var ledger: [SandboxLedgerEntry] { self.core.ledger.withLock { $0.entries } }

    /// Accepted refunds, oldest first. Each conversion's refunded amount, `sales_status` and net commission are in
    /// its ``ledger`` entry.
    public var refunds: [SandboxRefundEntry] { self.core.ledger.withLock { $0.refunds } }

    /// The ledger entry of the conversion with this Affonso id (`com_…`), if there is one.
    public func conversion(id: String) -> SandboxLedgerEntry? {
        self.core.ledger.withLock { state in state.entries.first { $0.commissionID == id } }
    }

    /// Counters since start or the last reset.
    public var stats: SandboxStats { self.core.counters.withLock { $0 } }

    /// Referrals with their current statuses and linked identifiers.
    public var referrals: [SandboxReferral] { self.core.ledger.withLock { $0.book.referrals } }

    /// Replaces the faults in effect; time-based faults count from now.
    public func setFaults(_ faults: SandboxFaults) {
        let now = SandboxCore.now()
        self.core.faults.withLock { $0.set(faults, now: now) }
    }

    /// Adds a referral at run time.
    /// - Throws: `SandboxError` when its id or an identifier belongs to another referral.
    public func addReferral(_ referral: SandboxReferral) throws(SandboxError) {
        try self.core.ledger.withLock { (state) throws(SandboxError) in try state.addReferral(referral) }
    }

    /// Seed referrals, empty ledger and stats, fresh rate-limit windows, configured faults.
    public func reset() { self.core.reset() }

    // MARK: - Routes

    private func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let core = self.core
        router.post("/v1/events") { request, _ in await core.handleEvent(request) }
        router.post("/v1/conversions/:id/refund") { request, context in
            await core.handleRefund(request, conversionID: context.parameters.get("id") ?? "")
        }
        router.get("/_sandbox/ledger") { request, _ in core.ledgerResponse(request) }
        router.get("/_sandbox/stats") { _, _ in core.statsResponse() }
        router.get("/_sandbox/faults") { _, _ in core.faultsResponse() }
        router.post("/_sandbox/faults") { request, _ in await core.updateFaults(request) }
        router.get("/_sandbox/referrals") { _, _ in core.referralsResponse() }
        router.post("/_sandbox/referrals") { request, _ in await core.addReferrals(request) }
        router.post("/_sandbox/reset") { _, _ in
            core.reset()
            return SandboxCore.json(
                .ok,
                {
                    var writer = JSONWriter(); writer.object { $0.field("reset", true) }; return writer
                }())
        }
        return router
    }

    private func markListening(_ port: Int) {
        let waiters = self.listening.withLock { state -> [CheckedContinuation<Int, any Error>] in
            guard case .notStarted(let waiters) = state else { return [] }
            state = .listening(port)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    private func markFailed(_ error: any Error) {
        let waiters = self.listening.withLock { state -> [CheckedContinuation<Int, any Error>] in
            switch state {
            case .notStarted(let waiters):
                state = .failed(error)
                return waiters
            case .listening:
                state = .failed(error)
                return []
            case .failed:
                return []
            }
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }
}
