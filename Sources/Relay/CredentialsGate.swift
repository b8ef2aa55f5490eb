// MARK: - CredentialsGate

/// The credentials fault of SPEC.md §6: on 401/403 the relay stops fetching, commits nothing new, fails
/// `/readyz`, logs one clear error, and probes every 30 s (re-reading `api_key_file` before each probe) until the
/// key works again. Records are never dead-lettered for this.
///
/// A state machine without I/O or clocks: the caller passes the time, and acts on the returned ``Action``.
public struct CredentialsGate: Sendable {
    /// A change the caller must make.
    public enum Action: Sendable, Hashable {
        /// The key was refused: stop fetching, hold records, fail `/readyz`, and log once that the API refused the
        /// key with this status (401: wrong or missing key; 403: the key lacks `write:commissions`).
        case stopFetching(status: Int)
        /// The key works again: resume fetching, release held records, pass `/readyz`.
        case resumeFetching
    }

    private enum State: Sendable {
        case open
        case faulted(status: Int, since: ContinuousClock.Instant, nextProbeAt: ContinuousClock.Instant)
        case probing(status: Int, since: ContinuousClock.Instant)
    }

    /// The pause between probes. Default: 30 s.
    public let probeInterval: Duration

    private var state: State = .open

    /// - Parameter probeInterval: The pause between probes.
    public init(probeInterval: Duration = .seconds(30)) {
        self.probeInterval = probeInterval
    }

    /// Whether the key is known to work (for `/readyz`).
    public var isReady: Bool {
        if case .open = self.state { return true }
        return false
    }

    /// The status that faulted the key, if it is faulted.
    public var faultStatus: Int? {
        switch self.state {
        case .open: nil
        case .faulted(let status, _, _), .probing(let status, _): status
        }
    }

    /// When the fault started, if the key is faulted.
    public var faultedSince: ContinuousClock.Instant? {
        switch self.state {
        case .open: nil
        case .faulted(_, let since, _), .probing(_, let since): since
        }
    }

    /// When the next probe is due, if the key is faulted and no probe is running.
    public var nextProbeTime: ContinuousClock.Instant? {
        if case .faulted(_, _, let nextProbeAt) = self.state { return nextProbeAt }
        return nil
    }

    // MARK: - Events

    /// Records a 401 or 403 from a regular request.
    ///
    /// - Parameters:
    ///   - status: The HTTP status.
    ///   - now: The current time.
    /// - Returns: ``Action/stopFetching(status:)`` for the first fault only; later ones while faulted return `nil`.
    public mutating func recordFault(status: Int, now: ContinuousClock.Instant) -> Action? {
        guard case .open = self.state else { return nil }
        self.state = .faulted(status: status, since: now, nextProbeAt: now + self.probeInterval)
        return .stopFetching(status: status)
    }

    /// Records that a regular request was accepted (not 401/403). While faulted this clears the fault: a request
    /// sent with a re-read key got through.
    ///
    /// - Returns: ``Action/resumeFetching`` when this cleared a fault.
    public mutating func recordAuthorized() -> Action? {
        guard !self.isReady else { return nil }
        self.state = .open
        return .resumeFetching
    }

    /// Starts a probe when one is due: the caller re-reads `api_key_file`, sends one request, and reports it with
    /// ``recordProbe(authorized:status:now:)``.
    ///
    /// - Parameter now: The current time.
    /// - Returns: Whether to probe now.
    public mutating func startProbeIfDue(now: ContinuousClock.Instant) -> Bool {
        guard case .faulted(let status, let since, let nextProbeAt) = self.state, now >= nextProbeAt else {
            return false
        }
        self.state = .probing(status: status, since: since)
        return true
    }

    /// Records how a probe ended.
    ///
    /// - Parameters:
    ///   - authorized: Whether the API accepted the key (any answer but 401/403).
    ///   - status: The refusal's status when not authorized (401 or 403), else ignored.
    ///   - now: The current time.
    /// - Returns: ``Action/resumeFetching`` when the key works again.
    public mutating func recordProbe(authorized: Bool, status: Int? = nil, now: ContinuousClock.Instant) -> Action? {
        guard case .probing(let previousStatus, let since) = self.state else { return nil }
        if authorized {
            self.state = .open
            return .resumeFetching
        }
        self.state = .faulted(status: status ?? previousStatus, since: since, nextProbeAt: now + self.probeInterval)
        return nil
    }

    /// Records a probe that got no answer about the key (a 5xx, a timeout, a connection error): the key is still
    /// considered refused, and the next probe is due after the probe interval.
    ///
    /// - Parameter now: The current time.
    public mutating func recordProbeUnanswered(now: ContinuousClock.Instant) {
        guard case .probing(let status, let since) = self.state else { return }
        self.state = .faulted(status: status, since: since, nextProbeAt: now + self.probeInterval)
    }

    /// Records a probe that was abandoned before it was answered (its request was cancelled): the next probe is
    /// due at once, so another request takes it.
    ///
    /// - Parameter now: The current time.
    public mutating func abandonProbe(now: ContinuousClock.Instant) {
        guard case .probing(let status, let since) = self.state else { return }
        self.state = .faulted(status: status, since: since, nextProbeAt: now)
    }

    /// Whether a probe was started and has not been reported yet.
    public var isProbing: Bool {
        if case .probing = self.state { return true }
        return false
    }
}
