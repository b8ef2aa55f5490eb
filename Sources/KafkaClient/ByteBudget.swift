import Synchronization

// MARK: - ByteBudget

/// One bound on the bytes of records a process holds, end to end: the consumer reserves each record's bytes
/// before handing it out, and the bytes return to the budget when the last copy of the record is gone (when its
/// ``Reservation`` is freed), wherever that happens: delivered, dead-lettered, dropped at a revoke or a seek.
///
/// While the budget is spent the consumer takes no more records from librdkafka, which then stops fetching once
/// its own prefetch is full (`queued.max.messages.kbytes`); it keeps serving rebalances meanwhile.
///
/// A request is granted when it fits in what is left, or when nothing is reserved at all: a single record
/// larger than the whole budget still passes, alone. Requests are granted in the order they were made.
public final class ByteBudget: Sendable {
    /// Bytes reserved for one record; they return to the budget when this object is freed.
    public final class Reservation: Sendable {
        /// The bytes reserved.
        public let bytes: Int
        let budget: ByteBudget

        fileprivate init(bytes: Int, budget: ByteBudget) {
            self.bytes = bytes
            self.budget = budget
        }

        deinit { budget.release(bytes) }
    }

    private struct Waiter {
        let id: UInt64
        let bytes: Int
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var reserved = 0
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        /// The size of the last request ``tryReserve(_:)`` refused, until a release makes room for it.
        var refused: Int?
        var onRoom: [@Sendable () -> Void] = []

        func fits(_ bytes: Int, limit: Int) -> Bool { reserved == 0 || bytes <= limit - reserved }
    }

    /// The most bytes reserved at once (a single larger record may still pass alone).
    public let limit: Int
    private let state = Mutex(State())

    /// - Parameter limit: The bytes that may be reserved at once; at least 1.
    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// The bytes reserved now.
    public var reservedBytes: Int { state.withLock { $0.reserved } }

    /// Requests waiting in ``reserve(_:)`` now (tests wait for a request to queue instead of sleeping).
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// The bytes left before the budget is spent (0 when it is spent or overdrawn by a single large record).
    public var availableBytes: Int { max(0, limit - reservedBytes) }

    /// Reserves `bytes` if they fit now (and nobody waits before this request).
    /// - Returns: The reservation, or `nil` when the budget is spent; the handlers given to
    ///   ``onRoom(_:)`` are then called once a release makes room for a request of this size.
    public func tryReserve(_ bytes: Int) -> Reservation? {
        let bytes = max(0, bytes)
        let granted = state.withLock { state -> Bool in
            guard state.waiters.isEmpty, state.fits(bytes, limit: limit) else {
                state.refused = bytes
                return false
            }
            state.reserved += bytes
            state.refused = nil
            return true
        }
        return granted ? Reservation(bytes: bytes, budget: self) : nil
    }

    /// Reserves `bytes`, waiting while they do not fit.
    /// - Throws: `CancellationError` when the task is cancelled while waiting.
    public func reserve(_ bytes: Int) async throws -> Reservation {
        let bytes = max(0, bytes)
        let id = state.withLock { state -> UInt64? in
            if state.waiters.isEmpty, state.fits(bytes, limit: limit) {
                state.reserved += bytes
                return nil
            }
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        guard let id else { return Reservation(bytes: bytes, budget: self) }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLock { state -> Bool in
                    guard !Task.isCancelled else { return true }
                    state.waiters.append(Waiter(id: id, bytes: bytes, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
            grantWaiting()
        }
        return Reservation(bytes: bytes, budget: self)
    }

    /// Calls `handler` whenever a release makes room for a request ``tryReserve(_:)`` refused. It runs on the
    /// releasing thread, possibly while the releaser holds its own locks: it must only signal (never block or
    /// take a lock that is held while records are dropped).
    public func onRoom(_ handler: @escaping @Sendable () -> Void) {
        state.withLock { $0.onRoom.append(handler) }
    }

    // MARK: - Release

    fileprivate func release(_ bytes: Int) {
        state.withLock { $0.reserved -= bytes }
        grantWaiting()
    }

    /// Grants waiting requests that fit, in order, and signals a refused synchronous request that now fits.
    private func grantWaiting() {
        let (granted, signal) = state.withLock {
            state -> ([CheckedContinuation<Void, any Error>], [@Sendable () -> Void]) in
            var granted: [CheckedContinuation<Void, any Error>] = []
            while let first = state.waiters.first, state.fits(first.bytes, limit: limit) {
                state.reserved += first.bytes
                granted.append(state.waiters.removeFirst().continuation)
            }
            guard state.waiters.isEmpty, let refused = state.refused, state.fits(refused, limit: limit) else {
                return (granted, [])
            }
            state.refused = nil
            return (granted, state.onRoom)
        }
        for continuation in granted { continuation.resume() }
        for handler in signal { handler() }
    }
}
