import Synchronization

// MARK: - RateLimiter

/// Paces requests to a plan's rate limit, shared by every sender of one client.
///
/// Three things decide when a request may go:
/// - a token bucket of capacity ``RateLimit/burst`` refilled at ``RateLimit/perMinute``/60 per second, plus
///   sliding windows that never let more than ``RateLimit/perMinute`` through in any 60 seconds nor more than
///   ``RateLimit/burst`` (at least the per-second rate) in any second (whether the API counts per minute, per second, in fixed or sliding
///   windows, or as a token bucket, this pace stays within it);
/// - pacing from the API's headers: when `X-RateLimit-Remaining` runs low before `X-RateLimit-Reset`, the
///   remaining requests are spread evenly until the reset (see ``observe(limit:remaining:resetIn:window:)``);
/// - one shared gate: a 429 closes it for `Retry-After`, and every sender waits for it to open
///   (see ``closeGate(for:)``).
///
/// Waiting senders queue in FIFO order; only the first one sleeps on the clock, so nothing busy-waits.
/// ``acquire()`` is cancellable. With no rate limit (plan `unlimited`) only the gate and header pacing apply.
/// Tests inject a manual `Clock` to simulate minutes instantly.
///
/// With a fleet configuration (``RateLimitScope/fleet``) the limiter paces to its ``FleetRateShare`` of the limit:
/// the bucket refills at `share × perMinute/60`, holds `share × burst` (at least 1, at most the burst), and header
/// pacing spreads only `share × remaining` (all of it at a share of 1 or more). The share comes from ``setShare(_:)`` (the assignment) and the API's counter (every
/// ``observe(limit:remaining:resetIn:window:)``); the per-minute window stays at the whole limit.
public final class RateLimiter<C: Clock>: Sendable where C.Duration == Duration {
    /// The configured limit, or `nil` for unlimited.
    public let rateLimit: RateLimit?
    /// The clock every wait is measured on.
    public let clock: C
    /// The longest the gate closes or header pacing lasts, whatever a response said (`affonso.max_retry_after`).
    public let maximumWait: Duration
    private let state: Mutex<State>
    private let shareObserver = Mutex<(@Sendable (FleetRateShare<C.Instant>.View) -> Void)?>(nil)

    /// Creates a limiter.
    ///
    /// - Parameters:
    ///   - rateLimit: the limit to pace to; `nil` paces only on the gate and headers.
    ///   - clock: the clock to read and sleep on.
    ///   - maximumWait: caps ``closeGate(for:)`` and the reset time of ``observe(limit:remaining:resetIn:window:)``.
    ///   - fleet: share `rateLimit` with the other members of the consumer group (``RateLimitScope/fleet``);
    ///     `nil` paces this process to the whole limit. Ignored without a `rateLimit`.
    public init(
        rateLimit: RateLimit?,
        clock: C,
        maximumWait: Duration = .seconds(60),
        fleet: FleetRateShare<C.Instant>.Configuration? = nil
    ) {
        self.rateLimit = rateLimit
        self.clock = clock
        self.maximumWait = max(maximumWait, .zero)
        var share: FleetRateShare<C.Instant>?
        if let rateLimit, let fleet { share = FleetRateShare(plan: rateLimit, configuration: fleet) }
        self.state = Mutex(State(limit: rateLimit, fleet: share, now: clock.now))
    }

    // MARK: - Fleet share

    /// Whether the limiter shares its limit with the fleet (``RateLimitScope/fleet``).
    public var isFleetScoped: Bool { state.withLock { $0.fleet != nil } }

    /// The part of the limit this process paces to: 1 unless fleet-scoped.
    public var share: Double {
        let now = clock.now
        return state.withLock { $0.fleet?.share(now: now) ?? 1 }
    }

    /// The fleet as this member sees it, or `nil` unless fleet-scoped.
    public var fleetView: FleetRateShare<C.Instant>.View? {
        let now = clock.now
        return state.withLock { $0.fleet?.view(now: now) }
    }

    /// Sets this member's base share from its assignment: owned source partitions ÷ all source partitions, or
    /// `nil` when unknown (the conservative fallback share applies). Ignored unless fleet-scoped.
    ///
    /// - Parameter share: a fraction of the limit in `0...1`, or `nil`.
    public func setShare(_ share: Double?) {
        let now = clock.now
        let view = state.withLock { state -> FleetRateShare<C.Instant>.View? in
            guard state.fleet != nil else { return nil }
            state.fleet?.setBaseShare(share, now: now)
            return state.reportShare(now: now, force: true)
        }
        report(view)
    }

    /// Calls `handler` (outside the limiter's lock) with the fleet's view whenever the share in use changes by a
    /// percentage point or more, or the base share is set. Replaces an earlier handler.
    public func onShareChange(_ handler: @escaping @Sendable (FleetRateShare<C.Instant>.View) -> Void) {
        shareObserver.withLock { $0 = handler }
    }

    /// While `true`, no request waits for a slot: waiting senders and new ones get `CancellationError` at once
    /// (a sleeping first one when it wakes), and a request that may go at once still goes. A member of the fleet
    /// whose every partition was revoked sets it until its next assignment, so that the records waiting for the
    /// rate limit are left to their partitions' next owner at the pace it has, instead of holding up the
    /// rebalance (or the shutdown) at this member's old share. Ignored unless fleet-scoped.
    public func refuseWaiting(_ refuse: Bool) {
        let waiters = state.withLock { state -> [Waiter] in
            guard state.fleet != nil else { return [] }
            state.isRefusingWaits = refuse
            guard refuse else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: CancellationError()) }
    }

    private func report(_ view: FleetRateShare<C.Instant>.View?) {
        guard let view, let handler = shareObserver.withLock({ $0 }) else { return }
        handler(view)
    }

    // MARK: - Acquire

    /// Waits until a request may be sent, then takes one slot.
    ///
    /// - Returns: how long the caller waited.
    /// - Throws: `CancellationError` when the task is cancelled while waiting (the slot is not taken).
    @discardableResult
    public func acquire() async throws -> Duration {
        try Task.checkCancellation()
        let start = clock.now
        let entry: Entry = state.withLock { state in
            if !state.hasHead && state.waiters.isEmpty {
                if case .granted = state.tryGrant(now: clock.now) { return .granted }
                if state.isRefusingWaits { return .refused }
                state.hasHead = true
                return .head
            }
            if state.isRefusingWaits { return .refused }
            state.nextID &+= 1
            return .queued(state.nextID)
        }
        switch entry {
        case .granted: return .zero
        case .refused: throw CancellationError()
        case .head: break
        case .queued(let id): try await waitToBecomeHead(id: id)
        }
        try await acquireAsHead()
        return start.duration(to: clock.now)
    }

    private enum HandoffAction { case suspend, resume, cancel }

    private enum Entry {
        case granted, head, refused
        case queued(UInt64)
    }

    private func waitToBecomeHead(id: UInt64) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let action: HandoffAction = state.withLock { state in
                    if state.cancelledIDs.remove(id) != nil || state.isRefusingWaits { return .cancel }
                    if !state.hasHead {
                        state.hasHead = true
                        return .resume
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return .suspend
                }
                switch action {
                case .suspend: break
                case .resume: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, any Error>? = state.withLock { state in
                if let index = state.waiters.firstIndex(where: { $0.id == id }) {
                    return state.waiters.remove(at: index).continuation
                }
                state.cancelledIDs.insert(id)
                return nil
            }
            continuation?.resume(throwing: CancellationError())
        }
        // Cancelled after being promoted: we are the head now and will notice the cancellation there.
        state.withLock { _ = $0.cancelledIDs.remove(id) }
    }

    private func acquireAsHead() async throws {
        do {
            while true {
                try Task.checkCancellation()
                let decision = state.withLock { state -> Decision? in
                    // Refused while waiting (the first one notices when it wakes): it does not take a slot.
                    state.isRefusingWaits ? nil : state.tryGrant(now: clock.now)
                }
                switch decision {
                case nil:
                    throw CancellationError()
                case .granted:
                    passHead()
                    return
                case .wait(let deadline):
                    // Fleet-scoped, the first waiter wakes at least every second, so that a refusal (every
                    // partition revoked) ends a long wait (a closed gate) soon.
                    let isFleet = state.withLock { $0.fleet != nil }
                    let wakeAt = isFleet ? min(deadline, clock.now.advanced(by: .seconds(1))) : deadline
                    try await clock.sleep(until: wakeAt, tolerance: nil)
                }
            }
        } catch {
            passHead()
            throw error
        }
    }

    private func passHead() {
        let next: CheckedContinuation<Void, any Error>? = state.withLock { state in
            if state.waiters.isEmpty {
                state.hasHead = false
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }

    // MARK: - Feedback from responses

    /// Closes the shared gate for `duration` (a 429's `Retry-After`): no sender gets a slot until it opens.
    /// A gate that is already closed longer stays closed longer. `duration` is capped at ``maximumWait``.
    /// Fleet-scoped, it also stops borrowing unused rate from the fleet for a while.
    public func closeGate(for duration: Duration) {
        let now = clock.now
        let view = state.withLock { state -> FleetRateShare<C.Instant>.View? in
            let opensAt = now.advanced(by: min(max(duration, .zero), maximumWait))
            if state.gateOpensAt.map({ $0 < opensAt }) ?? true { state.gateOpensAt = opensAt }
            guard state.fleet != nil else { return nil }
            state.fleet?.rateLimited(now: now)
            return state.reportShare(now: now, force: false)
        }
        report(view)
    }

    /// Adapts to the API's view of the limit (`X-RateLimit-*` headers of any response).
    ///
    /// When `remaining` is at most a tenth of the limit, the remaining requests are spread evenly over
    /// `resetIn` (fleet-scoped: this member's share of them); when it is zero, the gate closes until the reset.
    /// Plenty remaining clears the pacing. Fleet-scoped, the readings also measure the fleet's rate
    /// (see ``FleetRateShare``).
    ///
    /// - Parameters:
    ///   - limit: `X-RateLimit-Limit` (per minute), if sent.
    ///   - remaining: `X-RateLimit-Remaining`.
    ///   - resetIn: time until `X-RateLimit-Reset`, capped at ``maximumWait``.
    ///   - window: `X-RateLimit-Reset` as sent (Unix seconds), which identifies the API's window whatever this
    ///     host's clock says; `nil` if unknown.
    public func observe(limit: Int?, remaining: Int, resetIn: Duration, window: Int64? = nil) {
        let now = clock.now
        let perMinute = max(1, limit ?? rateLimit?.perMinute ?? 600)
        // A reset capped at maximumWait is later than it says: the share gets none (it would overrate the room left).
        let windowResetIn = resetIn < maximumWait ? max(.zero, resetIn) : nil
        let resetIn = min(resetIn, maximumWait)
        let view = state.withLock { state -> FleetRateShare<C.Instant>.View? in
            var view: FleetRateShare<C.Instant>.View?
            if state.fleet != nil {
                state.fleet?.observe(
                    limit: limit, remaining: remaining, window: window, resetIn: windowResetIn, now: now)
                view = state.reportShare(now: now, force: false)
            }
            // This member's part of what remains: never more than all of it (a share above 1 is catching up).
            let share = min(1, state.fleet?.share(now: now) ?? 1)
            guard resetIn > .zero else {
                state.pacing = nil
                return view
            }
            let until = now.advanced(by: resetIn)
            if remaining <= 0 {
                if state.gateOpensAt.map({ $0 < until }) ?? true { state.gateOpensAt = until }
            } else if remaining <= max(1, perMinute / 10) {
                let requests = max(1, Double(remaining) * share)
                state.pacing = State.Pacing(interval: resetIn / requests, until: until)
            } else {
                state.pacing = nil
            }
            return view
        }
        report(view)
    }

    /// How long the gate stays closed from now, or `nil` when it is open.
    public var gateRemaining: Duration? {
        let now = clock.now
        return state.withLock { state in
            guard let opensAt = state.gateOpensAt, opensAt > now else { return nil }
            return now.duration(to: opensAt)
        }
    }

    /// When the gate opens (or opened: it is kept until the next request takes a slot), or `nil`. Tests compare it
    /// with instants they took, where ``gateRemaining`` read late on a loaded machine may already be `nil`.
    var gateOpensAt: C.Instant? { state.withLock { $0.gateOpensAt } }

    /// When the last request took its slot, or `nil` before the first.
    var lastGrant: C.Instant? { state.withLock { $0.lastGrant } }

    /// Senders currently waiting (the sleeping head and the queue behind it).
    public var waitingCount: Int {
        state.withLock { ($0.hasHead ? 1 : 0) + $0.waiters.count }
    }
}

// MARK: - State

extension RateLimiter {
    struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    enum Decision: Equatable {
        case granted
        case wait(until: C.Instant)
    }

    /// The limiter's state machine; `tryGrant` decides, the caller sleeps outside the lock.
    struct State {
        struct Pacing {
            var interval: Duration
            var until: C.Instant
        }

        let limit: RateLimit?
        /// The fleet share, when fleet-scoped.
        var fleet: FleetRateShare<C.Instant>?
        /// The share last reported to the observer.
        var reportedShare: Double?
        var tokens: Double
        var refilledAt: C.Instant
        /// The last `perMinute` grants: no more in any 60 seconds.
        var minuteWindow: SlidingWindow
        /// The last `burst` grants: no more in any second.
        var secondWindow: SlidingWindow
        var gateOpensAt: C.Instant?
        var pacing: Pacing?
        /// ``refuseWaiting(_:)``.
        var isRefusingWaits = false
        var lastGrant: C.Instant?
        var hasHead = false
        var waiters: [Waiter] = []
        var cancelledIDs: Set<UInt64> = []
        var nextID: UInt64 = 0

        init(limit: RateLimit?, fleet: FleetRateShare<C.Instant>? = nil, now: C.Instant) {
            self.limit = limit
            self.fleet = fleet
            let share = fleet?.share(now: now) ?? 1
            self.tokens = limit.map { Self.burstCapacity($0, share: share, isFleet: fleet != nil) } ?? 0
            self.refilledAt = now
            self.minuteWindow = SlidingWindow(capacity: limit?.perMinute ?? 0, length: .seconds(60))
            // A burst below the per-second rate would cap the rate itself; the bucket still spaces such grants.
            let perSecondCap = limit.map { max($0.burst, ($0.perMinute + 59) / 60) } ?? 0
            self.secondWindow = SlidingWindow(capacity: perSecondCap, length: .seconds(1))
        }

        /// The bucket's capacity: the whole burst, or the member's share of it (at least one request, at most the
        /// whole burst: a share above 1 while the fleet catches up raises the rate, never the burst).
        static func burstCapacity(_ limit: RateLimit, share: Double, isFleet: Bool) -> Double {
            isFleet ? max(1, (Double(limit.burst) * min(1, share)).rounded(.down)) : Double(limit.burst)
        }

        /// The fleet's view when the share moved a percentage point or more since the last report (or `force`).
        mutating func reportShare(now: C.Instant, force: Bool) -> FleetRateShare<C.Instant>.View? {
            guard let fleet else { return nil }
            let share = fleet.share(now: now)
            if !force, let reportedShare, abs(reportedShare - share) < 0.01 { return nil }
            reportedShare = share
            return fleet.view(now: now)
        }

        mutating func tryGrant(now: C.Instant) -> Decision {
            if let opensAt = gateOpensAt {
                if now < opensAt { return .wait(until: opensAt) }
                gateOpensAt = nil
            }
            if let pacing {
                if now >= pacing.until {
                    self.pacing = nil
                } else if let lastGrant, lastGrant.advanced(by: pacing.interval) > now {
                    return .wait(until: min(lastGrant.advanced(by: pacing.interval), pacing.until))
                }
            }
            if let limit {
                let share = fleet?.share(now: now) ?? 1
                let perSecond = Double(limit.perMinute) / 60 * share
                let capacity = Self.burstCapacity(limit, share: share, isFleet: fleet != nil)
                let elapsed = refilledAt.duration(to: now)
                if elapsed > .zero {
                    tokens = tokens + elapsed.seconds * perSecond
                    refilledAt = now
                }
                tokens = min(capacity, tokens)
                if let freesAt = minuteWindow.freesAt(now: now) { return .wait(until: freesAt) }
                let perSecondCap = fleet == nil ? nil : max(Int(capacity), Int(perSecond.rounded(.up)))
                if let freesAt = secondWindow.freesAt(now: now, capacity: perSecondCap) { return .wait(until: freesAt) }
                if tokens < 1 - 1e-9 {
                    return .wait(until: now.advanced(by: .seconds((1 - tokens) / perSecond)))
                }
                tokens -= 1
                minuteWindow.record(now)
                secondWindow.record(now)
            }
            lastGrant = now
            return .granted
        }
    }
}

// MARK: - SlidingWindow

extension RateLimiter {
    /// The times of the last `capacity` grants, as a ring: a new grant must wait until the oldest of them is
    /// `length` old, so no window of `length` ever holds more than `capacity` grants.
    struct SlidingWindow {
        let capacity: Int
        let length: Duration
        private var times: [C.Instant] = []
        private var oldest = 0

        init(capacity: Int, length: Duration) {
            self.capacity = capacity
            self.length = length
            times.reserveCapacity(min(capacity, 100_000))
        }

        /// When the next grant may happen, or `nil` if it may happen now.
        ///
        /// - Parameter limit: a smaller capacity to apply this time (a fleet member's share), at most ``capacity``.
        func freesAt(now: C.Instant, capacity limit: Int? = nil) -> C.Instant? {
            let effective = min(capacity, max(1, limit ?? capacity))
            guard capacity > 0, times.count >= effective else { return nil }
            // The `effective`-th most recent grant: with the ring full, the newest is just before `oldest`.
            let index = times.count < capacity ? times.count - effective : (oldest + capacity - effective) % capacity
            let freesAt = times[index].advanced(by: length)
            return freesAt > now ? freesAt : nil
        }

        mutating func record(_ now: C.Instant) {
            guard capacity > 0 else { return }
            if times.count < capacity {
                times.append(now)
            } else {
                times[oldest] = now
                oldest = (oldest + 1) % capacity
            }
        }
    }
}

// MARK: - Duration seconds

extension Duration {
    /// The duration in seconds as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}

extension RateLimiter where C == ContinuousClock {
    /// Creates a limiter on the continuous clock.
    public convenience init(rateLimit: RateLimit?, maximumWait: Duration = .seconds(60)) {
        self.init(rateLimit: rateLimit, clock: ContinuousClock(), maximumWait: maximumWait)
    }
}
