import NIOCore
import Synchronization

// MARK: - HTTP1ConnectionPool

/// Lends ``HTTP1Connection``s to senders, one sender per connection, at most ``maximumConnections`` open. An idle
/// connection is reused (the most recently used first, so extra ones idle out); with none idle and room left the
/// sender is told to connect; otherwise it waits for the next released connection, or for room.
final class HTTP1ConnectionPool: Sendable {
    /// What a sender gets: a connection to use, or leave to open one (and report a failure to open it).
    enum Lease {
        case connection(HTTP1Connection)
        case connect
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Lease, any Error>
    }

    private struct Idle {
        var connection: HTTP1Connection
        var since: ContinuousClock.Instant
    }

    private struct State {
        /// Idle connections, the most recently released last.
        var idle: [Idle] = []
        /// Connections open or being opened, idle or lent.
        var open = 0
        var waiters: [Waiter] = []
        /// Every open connection, idle or lent, for ``shutdown()``.
        var all: [ObjectIdentifier: HTTP1Connection] = [:]
        var nextWaiterID = 0
        var isShutDown = false
        /// When the idle connections were last swept for the idle timeout.
        var lastSweep: ContinuousClock.Instant?

        /// An idle connection still usable (the most recent of `loop`'s first), or room for a new one; stale idle
        /// ones go to `close`. With `loop` given, a new connection is preferred to another loop's idle one.
        ///
        /// Only the connection taken is checked on each lease (a lease per request must not walk every idle
        /// connection); all idle ones are swept for the idle timeout at most once a second. A connection the server
        /// closes leaves `idle` at once (``closed(_:)``).
        mutating func take(
            maximum: Int,
            idleTimeout: Duration,
            now: ContinuousClock.Instant,
            loop: ObjectIdentifier?,
            close: inout [HTTP1Connection]
        ) -> Lease? {
            if lastSweep.map({ $0.duration(to: now) >= .seconds(1) }) ?? true {
                lastSweep = now
                let before = idle.count
                idle.removeAll { entry in
                    guard entry.connection.isActive && entry.since.duration(to: now) < idleTimeout else {
                        close.append(entry.connection)
                        return true
                    }
                    return false
                }
                open -= before - idle.count
            }
            if let loop {
                if let index = idle.lastIndex(where: { $0.connection.loopID == loop }),
                    let connection = usable(at: index, idleTimeout: idleTimeout, now: now, close: &close)
                {
                    return .connection(connection)
                }
            } else if let connection = mostRecentUsable(idleTimeout: idleTimeout, now: now, close: &close) {
                return .connection(connection)
            }
            if open < maximum {
                open += 1
                return .connect
            }
            return mostRecentUsable(idleTimeout: idleTimeout, now: now, close: &close).map { .connection($0) }
        }

        /// The most recently released idle connection still usable; the stale ones met on the way go to `close`.
        private mutating func mostRecentUsable(
            idleTimeout: Duration, now: ContinuousClock.Instant, close: inout [HTTP1Connection]
        ) -> HTTP1Connection? {
            while !idle.isEmpty {
                if let connection = usable(at: idle.count - 1, idleTimeout: idleTimeout, now: now, close: &close) {
                    return connection
                }
            }
            return nil
        }

        /// Takes the idle connection at `index` out; nil (and it goes to `close`) when it closed or idled too long.
        private mutating func usable(
            at index: Int, idleTimeout: Duration, now: ContinuousClock.Instant, close: inout [HTTP1Connection]
        ) -> HTTP1Connection? {
            let entry = idle.remove(at: index)
            guard entry.connection.isActive && entry.since.duration(to: now) < idleTimeout else {
                close.append(entry.connection)
                open -= 1
                return nil
            }
            return entry.connection
        }
    }

    let maximumConnections: Int
    let idleTimeout: Duration
    private let state = Mutex(State())

    init(maximumConnections: Int, idleTimeout: Duration = .seconds(60)) {
        self.maximumConnections = maximumConnections
        self.idleTimeout = idleTimeout
    }

    // MARK: - Lending

    /// A connection or leave to open one, waiting while every connection is lent.
    ///
    /// - Throws: `CancellationError` when the task is cancelled while waiting; ``HTTP1TransportError`` with code
    ///   `shutdown` after ``shutdown()``.
    /// - Parameter loop: the caller's event loop, whose connections it gets first (see ``EventLoopTaskExecutor``).
    func lease(on loop: (any EventLoop)? = nil) async throws -> Lease {
        var stale: [HTTP1Connection] = []
        defer { stale.forEach { $0.close() } }
        let loop = loop.map(ObjectIdentifier.init)
        let immediate = try state.withLock { state throws(HTTP1TransportError) -> Lease? in
            guard !state.isShutDown else { throw Self.shutDownError }
            return state.take(
                maximum: maximumConnections, idleTimeout: idleTimeout, now: .now, loop: loop, close: &stale)
        }
        if let immediate { return immediate }

        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Lease, any Error>) in
                var close: [HTTP1Connection] = []
                let result = state.withLock { state -> Result<Lease, any Error>? in
                    if state.isShutDown { return .failure(Self.shutDownError) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let lease = state.take(
                        maximum: maximumConnections, idleTimeout: idleTimeout, now: .now, loop: loop, close: &close)
                    {
                        return .success(lease)
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                close.forEach { $0.close() }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Takes back a lent connection: kept for the next sender if `reusable` and still open, else closed.
    func release(_ connection: HTTP1Connection, reusable: Bool) {
        enum Outcome {
            case kept
            case handedOver(Waiter)
            case closed(nextOpens: Waiter?)
        }
        let keep = reusable && connection.isActive
        let outcome = state.withLock { state -> Outcome in
            if keep && !state.isShutDown {
                if !state.waiters.isEmpty { return .handedOver(state.waiters.removeFirst()) }
                state.idle.append(Idle(connection: connection, since: .now))
                return .kept
            }
            // Closed: its place goes to the first waiter, which opens a new connection.
            if !state.isShutDown && !state.waiters.isEmpty { return .closed(nextOpens: state.waiters.removeFirst()) }
            state.open -= 1
            return .closed(nextOpens: nil)
        }
        switch outcome {
        case .kept:
            break
        case .handedOver(let waiter):
            waiter.continuation.resume(returning: .connection(connection))
        case .closed(let waiter):
            connection.close()
            waiter?.continuation.resume(returning: .connect)
        }
    }

    /// A `.connect` lease whose connection could not be opened: its place is free again.
    func connectFailed() {
        let waiter = state.withLock { state -> Waiter? in
            if !state.isShutDown && !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .connect)
    }

    /// A connection just opened; returns `false` (and the caller closes it) if the pool was shut down meanwhile.
    func opened(_ connection: HTTP1Connection) -> Bool {
        state.withLock { state in
            guard !state.isShutDown else { return false }
            state.all[ObjectIdentifier(connection)] = connection
            return true
        }
    }

    /// A connection closed (by the server, the network or us): forgets it; if it was idle, its place is free.
    /// Lent ones come back by ``release(_:reusable:)``.
    func closed(_ connection: HTTP1Connection) {
        let waiter = state.withLock { state -> Waiter? in
            state.all[ObjectIdentifier(connection)] = nil
            guard let index = state.idle.firstIndex(where: { $0.connection === connection }) else { return nil }
            state.idle.remove(at: index)
            if !state.isShutDown && !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .connect)
    }

    /// Closes every connection (requests in flight fail) and fails every waiter; later leases fail.
    func shutdown() {
        let (connections, waiters) = state.withLock { state in
            state.isShutDown = true
            state.open -= state.idle.count
            state.idle = []
            defer {
                state.waiters = []
                state.all = [:]
            }
            return (Array(state.all.values), state.waiters)
        }
        connections.forEach { $0.close() }
        waiters.forEach { $0.continuation.resume(throwing: Self.shutDownError) }
    }

    private static var shutDownError: HTTP1TransportError {
        HTTP1TransportError(code: .shutdown, message: "the client was shut down")
    }
}
