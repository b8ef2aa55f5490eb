// MARK: - FleetRateShare

/// The part of the plan one member of a consumer group may use, so that the members together pace to the plan
/// (``RateLimitScope/fleet``). Pure: no I/O, no clock of its own; the caller passes `now`.
///
/// Two inputs, both of which every member has without talking to the others:
/// - **the assignment**: ``setBaseShare(_:now:)`` with owned source partitions ÷ all source partitions, at every
///   rebalance. The base shares of the members sum to 1, so every member may always use its base share and the
///   fleet stays within the plan. With no assignment known, the base is ``Configuration/fallbackShare``.
/// - **the API's own counter**: every response's `X-RateLimit-Limit − X-RateLimit-Remaining` is what the whole
///   fleet consumed in the current window (identified by its `X-RateLimit-Reset` value, which is the same for every
///   member whatever its clock says). Two such readings at least ``Configuration/measurementInterval`` apart give
///   the fleet's rate; the member's own responses in between give its own rate.
///
/// From these, at each measurement (see ``observe(limit:remaining:window:now:)``):
/// - the fleet is **under** the target (`targetUtilization × plan`): a member that uses its allowance takes its base
///   share of the unused rate on top of what it sends (`share = (own + base × unused) ÷ plan`), so the members that
///   have work absorb what idle or stalled members leave (work-conserving); together they take at most the unused
///   rate, since the base shares sum to 1. A member that does not use its allowance shrinks it toward what it
///   sends, never below its base.
/// - the fleet is **over** the target: a member above its base (a borrower) gives back the whole excess at once,
///   never going below its base; a member at its base gives back its base share of the excess.
/// - the borrowed part is a lease: without a measurement for ``Configuration/leaseDuration`` (the member went idle,
///   or the API stopped sending the headers), the share falls back to the base. A 429 ends borrowing for
///   ``Configuration/borrowingPause``.
///
/// **Catching up within the window.** The member also keeps the fleet's position in the API's window: since its
/// first reading of the window, how far the counter is behind `targetUtilization × plan` for the time that passed
/// (on this member's monotonic clock; forgotten at the next window, and never more than
/// ``Configuration/catchUpLimit`` of the plan), and, bounding that, what the window itself has left beyond the
/// target's pace until its reset (`remaining − target × resetIn`, less the target's margin), which holds whenever
/// the member first saw the window and keeps the window's end from running dry. A fleet that was silent for a few seconds (an eager rebalance stops
/// every member) is behind: the rate it may use is then the target plus the shortfall over
/// ``Configuration/catchUpSpan``, at most ``Configuration/catchUpCeiling`` of the plan's burst per second, so the
/// plan is used over the window although no member sent for a while. While the fleet is behind it is not over the
/// plan, whatever its rate over the last interval: the burst members' buckets send after such a silence is part of
/// the catching up, not an excess to give back. The share may then exceed 1 (a fraction of the plan's rate; the
/// burst a member may send stays at most the plan's). Only a counter with one reset time per window gives a
/// position: a server whose `X-RateLimit-Reset` moves with every request (a sliding window, a token bucket) gives
/// none, and nothing is caught up.
public struct FleetRateShare<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// Tuning of the share computation; the defaults suit the documented plans.
    public struct Configuration: Sendable, Hashable {
        /// The base share while no assignment is known (no fleet information): a conservative part of the plan,
        /// never the whole plan. Borrowing from the API's counter still lifts a lone member to the plan.
        ///
        /// Default: 1/6 (the production overlay's `maxReplicaCount`)
        public var fallbackShare: Double = 1.0 / 6
        /// The smallest share, even with no owned source partitions (retry-tier records still need sending).
        ///
        /// Default: 0.02
        public var minimumShare: Double = 0.02
        /// The shortest time between two readings of the API's counter that make a measurement.
        ///
        /// Default: 1 s
        public var measurementInterval: Duration = .seconds(1)
        /// The fleet rate borrowing aims at, as a fraction of the plan (leaves room for measurement noise).
        ///
        /// Default: 0.99
        public var targetUtilization: Double = 0.99
        /// How long a borrowed share lasts without a new measurement.
        ///
        /// Default: 3 s
        public var leaseDuration: Duration = .seconds(3)
        /// How long a 429 stops borrowing.
        ///
        /// Default: 10 s
        public var borrowingPause: Duration = .seconds(10)
        /// Over how long the fleet makes up what it left unused of the API's current window (see the type's
        /// *Catching up within the window*).
        ///
        /// Default: 3 s
        public var catchUpSpan: Duration = .seconds(3)
        /// The most the fleet makes up, as time at the target rate: an older shortfall (the fleet idle) is
        /// forgotten.
        ///
        /// Default: 10 s (100 requests on growth)
        public var catchUpLimit: Duration = .seconds(10)
        /// The fleet's rate while it catches up, at most this fraction of the plan's burst per second (the API
        /// allows the burst every second; growth: 15/s of 20).
        ///
        /// Default: 0.75
        public var catchUpCeiling: Double = 0.75

        /// Creates the default configuration.
        public init() {}
    }

    /// What the member knows about the fleet, for the metric and the debug log.
    public struct View: Sendable, Hashable, CustomStringConvertible {
        /// The share from the assignment, or `nil` while none is known (``Configuration/fallbackShare`` applies).
        public var baseShare: Double?
        /// The share in use: a fraction of the plan's rate, from `minimumShare`; above 1 only while the fleet
        /// catches up within the API's window.
        public var share: Double
        /// The fleet's rate at the last measurement, requests per second, as counted by the API.
        public var fleetRate: Double?
        /// This member's rate over the same interval.
        public var ownRate: Double?
        /// How many requests the fleet is behind the target in the API's current window (negative: ahead), at the
        /// last measurement; `nil` before the first.
        public var behind: Double?
        /// Why the share last changed.
        public var reason: String

        public var description: String {
            func format(_ value: Double?) -> String {
                guard let value else { return "unknown" }
                return String(Double((value * 1000).rounded()) / 1000)
            }
            return "share \(format(share)) (base \(baseShare.map { format($0) } ?? "unknown, fallback")), "
                + "fleet \(format(fleetRate))/s, own \(format(ownRate))/s, behind \(format(behind)): \(reason)"
        }
    }

    private struct Reading {
        var time: Instant
        var consumed: Int
        var ownResponses: Int
        var window: Int64
    }

    /// The fleet's position in one window of the API's counter.
    struct Pace {
        /// `X-RateLimit-Reset` as sent: the window.
        var window: Int64
        /// The last reading.
        var time: Instant
        /// The highest count seen (responses may arrive out of order).
        var highest: Int
        /// Requests the fleet is behind `targetUtilization × plan` since this member's first reading of the window
        /// (negative: ahead), on this member's monotonic clock.
        var behind: Double
        /// The same from the window's own numbers at the last reading: what remains beyond the target's requests
        /// until the reset, less the target's margin (`(1 − targetUtilization) × limit`). `nil` without a reset time.
        var windowBehind: Double?

        /// What the fleet may make up: the smaller of the two (see ``FleetRateShare``), never less than 0.
        var shortfall: Double { max(0, min(behind, windowBehind ?? 0)) }
    }

    /// The plan the fleet shares.
    public let plan: RateLimit
    /// The tuning.
    public let configuration: Configuration
    /// The share from the assignment; `nil` until one is known.
    public private(set) var baseShare: Double?
    private var borrowedShare: Double
    private var ownResponses = 0
    private var anchor: Reading?
    private var lastMeasurement: Instant?
    private var borrowingPausedUntil: Instant?
    private var fleetRate: Double?
    private var ownRate: Double?
    private var reason = "no fleet information yet"
    /// Kept across assignments: a rebalance changes the shares, not what the fleet used of the window.
    private(set) var pace: Pace?

    /// Creates the share of a member that knows nothing about the fleet yet.
    ///
    /// - Parameters:
    ///   - plan: the limit the fleet shares.
    ///   - configuration: the tuning.
    public init(plan: RateLimit, configuration: Configuration = Configuration()) {
        self.plan = plan
        self.configuration = configuration
        self.borrowedShare = Self.clamp(configuration.fallbackShare, configuration)
    }

    // MARK: - Reading

    /// The base share in effect (the assignment's, or the fallback), never below the minimum.
    public var effectiveBase: Double { Self.clamp(baseShare ?? configuration.fallbackShare, configuration) }

    /// The share to pace to at `now`: the borrowed share while its lease lasts, else the base.
    public func share(now: Instant) -> Double {
        guard let lastMeasurement else { return min(borrowedShare, effectiveBase) }
        // Below the base, the member gives back one measurement's excess (its own bucket's burst after a pause, or
        // the others'): until the next measurement, at most two intervals, since a small share may get no response
        // to measure for seconds. Above the base, the borrowed rate lasts the lease.
        let below = borrowedShare < effectiveBase
        let lasts = below ? configuration.measurementInterval * 2 : configuration.leaseDuration
        guard lastMeasurement.advanced(by: lasts) > now else { return effectiveBase }
        return borrowedShare
    }

    /// The member's view of the fleet at `now`.
    public func view(now: Instant) -> View {
        View(
            baseShare: baseShare, share: share(now: now), fleetRate: fleetRate, ownRate: ownRate,
            behind: pace.map { min($0.behind, $0.windowBehind ?? $0.behind) }, reason: reason)
    }

    /// The largest share: the catch-up ceiling as a fraction of the plan's rate, at least the whole plan.
    public var maximumShare: Double {
        let perSecond = Double(plan.perMinute) / 60
        return max(1, configuration.catchUpCeiling * Double(plan.burst) / perSecond)
    }

    // MARK: - Inputs

    /// Sets the share from the assignment (owned source partitions ÷ all source partitions), or `nil` when it is
    /// not known. The member starts again from its base: what it borrowed under the old assignment is returned.
    ///
    /// - Returns: whether the share in use changed.
    @discardableResult
    public mutating func setBaseShare(_ share: Double?, now: Instant) -> Bool {
        let before = self.share(now: now)
        let oldBase = baseShare
        baseShare = share.map { min(1, max(0, $0.isFinite ? $0 : 0)) }
        borrowedShare = effectiveBase
        anchor = nil
        lastMeasurement = nil
        reason = baseShare == nil ? "assignment unknown: fallback share" : "assignment changed"
        return self.share(now: now) != before || baseShare != oldBase
    }

    /// Takes one response's `X-RateLimit-*`; every second or so this makes a measurement and adjusts the share.
    /// Call it once per response that the API counted (not for a 429).
    ///
    /// - Parameters:
    ///   - limit: `X-RateLimit-Limit`, if sent (else the plan's per-minute limit).
    ///   - remaining: `X-RateLimit-Remaining`.
    ///   - window: `X-RateLimit-Reset` as sent (Unix seconds): the window's identity, the same for every member;
    ///     `nil` when not sent (then no measurement is made).
    ///   - resetIn: the time until that reset on this host's clock; `nil` when unknown (then nothing is caught up).
    ///   - now: the current time.
    /// - Returns: whether the share in use changed.
    @discardableResult
    public mutating func observe(
        limit: Int?, remaining: Int, window: Int64?, resetIn: Duration? = nil, now: Instant
    ) -> Bool {
        ownResponses &+= 1
        guard let window else { return false }
        let consumed = max(0, (limit ?? plan.perMinute) - max(0, remaining))
        // A response from an earlier window, overtaken by one of the next, says nothing about the current one (but
        // a counter whose reset went back for good is followed once the window it left would have ended).
        if let pace, window < pace.window, pace.time.duration(to: now) < .seconds(60) { return false }
        advancePace(window: window, consumed: consumed, now: now)
        let perMinute = Double(limit ?? plan.perMinute)
        let utilization = configuration.targetUtilization
        let windowBehind = resetIn.map { resetIn in
            Double(max(0, remaining)) - perMinute / 60 * utilization * max(.zero, resetIn).seconds
                - (1 - utilization) * perMinute
        }
        pace?.windowBehind = windowBehind
        let reading = Reading(time: now, consumed: consumed, ownResponses: ownResponses, window: window)
        guard let anchor, anchor.window == window, consumed >= anchor.consumed else {
            // A new window (or the first reading): the counter started again; measure from here.
            self.anchor = reading
            return false
        }
        let elapsed = anchor.time.duration(to: now)
        guard elapsed >= configuration.measurementInterval, elapsed > .zero else { return false }
        self.anchor = reading
        let seconds = elapsed.seconds
        let fleet = Double(consumed - anchor.consumed) / seconds
        let own = min(fleet, Double(ownResponses - anchor.ownResponses) / seconds)
        return measured(fleet: fleet, own: own, now: now)
    }

    /// A 429: the fleet is over the limit. The member returns what it borrowed and borrows nothing for
    /// ``Configuration/borrowingPause``.
    ///
    /// - Returns: whether the share in use changed.
    @discardableResult
    public mutating func rateLimited(now: Instant) -> Bool {
        let before = share(now: now)
        borrowingPausedUntil = now.advanced(by: configuration.borrowingPause)
        borrowedShare = min(borrowedShare, effectiveBase)
        reason = "429: borrowing paused for \(configuration.borrowingPause)"
        return share(now: now) != before
    }

    // MARK: - Measurement

    /// Moves the fleet's position in the window to `now`: the target's requests for the time since the last
    /// reading, less what the counter rose by.
    private mutating func advancePace(window: Int64, consumed: Int, now: Instant) {
        guard var pace, pace.window == window else {
            self.pace = Pace(window: window, time: now, highest: consumed, behind: 0)
            return
        }
        let perSecond = Double(plan.perMinute) / 60
        let target = perSecond * configuration.targetUtilization
        let elapsed = max(.zero, pace.time.duration(to: now)).seconds
        let rise = max(0, consumed - pace.highest)
        let limit = target * configuration.catchUpLimit.seconds
        pace.behind = min(limit, max(-Double(plan.perMinute), pace.behind + target * elapsed - Double(rise)))
        pace.highest = max(pace.highest, consumed)
        pace.time = max(pace.time, now)
        self.pace = pace
    }

    private mutating func measured(fleet: Double, own: Double, now: Instant) -> Bool {
        let before = share(now: now)
        let perSecond = Double(plan.perMinute) / 60
        let target = perSecond * configuration.targetUtilization
        let base = effectiveBase
        let weight = max(base, configuration.minimumShare)
        fleetRate = fleet
        ownRate = own
        lastMeasurement = now
        let current = before
        // Behind in the window (a silence, a slow start): the fleet may use the target and make up the shortfall.
        let behind = pace?.shortfall ?? 0
        let ceiling = max(target, configuration.catchUpCeiling * Double(plan.burst))
        let allowed = min(ceiling, target + behind / max(configuration.catchUpSpan.seconds, 1e-3))
        var next: Double
        if fleet > target && behind <= 0 {
            let excess = fleet - target
            if current > base {
                next = max(base, (own - excess) / perSecond)
                reason = "fleet over the plan: returning borrowed share"
            } else {
                next = current - weight * excess / perSecond
                reason = "fleet over the plan: giving back the base share of the excess"
            }
        } else if let pausedUntil = borrowingPausedUntil, now < pausedUntil {
            next = min(current, base)
            reason = "borrowing paused after a 429"
        } else {
            borrowingPausedUntil = nil
            // Negative when a burst after a silence already took more than the shortfall's part: the member then
            // keeps its base share rather than giving back what the window still has room for.
            let unused = allowed - fleet
            // Who may claim the unused rate: this member, and at most the others that send (together their rate's
            // part of the plan, at least their base shares if they use them). Taking base ÷ (base + others' part)
            // of it, the claimants together take about the unused rate, and a member alone with work (the others
            // idle, stalled or gone) takes all of it at once instead of a base share a second.
            let others = max(0, fleet - own) / perSecond
            let claim = min(1, weight / (weight + others))
            let wanted = (own + claim * unused) / perSecond
            // Using its allowance (within measurement noise): the member has work and may take more.
            let isBound = own >= 0.8 * current * perSecond
            next = max(base, isBound ? wanted : min(current, wanted))
            if !isBound {
                reason = "member below its allowance"
            } else if behind > 0 {
                reason = "fleet behind in the API's window: catching up"
            } else {
                reason = "fleet under the plan: borrowing unused rate"
            }
        }
        borrowedShare = min(maximumShare, Self.clamp(next, configuration, maximum: maximumShare))
        return borrowedShare != before
    }

    private static func clamp(_ share: Double, _ configuration: Configuration, maximum: Double = 1) -> Double {
        guard share.isFinite else { return configuration.minimumShare }
        return min(maximum, max(configuration.minimumShare, share))
    }
}
