// MARK: - OutageDetector

/// Tells when the API is down as a whole (SPEC.md §6): when most of the most recent requests failed transiently,
/// the relay stops fetching and probes instead of pushing its whole backlog into retry topics; a successful probe
/// ends the outage.
///
/// A state machine without I/O or clocks: the caller passes the time, and acts on the returned ``Action``.
public struct OutageDetector: Sendable {
    /// When to declare an outage and how often to probe.
    public struct Configuration: Sendable, Hashable {
        /// How many of the most recent requests are considered. Default: 20.
        public var windowSize: Int
        /// The share of transient failures in a full window that means "down". Default: 0.8.
        public var failureRatio: Double
        /// The pause before the first probe, doubled after each failed probe. Default: 1 s.
        public var initialProbeInterval: Duration
        /// The longest pause between probes. Default: 30 s.
        public var maximumProbeInterval: Duration

        /// - Parameters:
        ///   - windowSize: How many of the most recent requests are considered; at least 1.
        ///   - failureRatio: The share of transient failures in a full window that means "down", in (0, 1].
        ///   - initialProbeInterval: The pause before the first probe.
        ///   - maximumProbeInterval: The longest pause between probes.
        public init(
            windowSize: Int = 20,
            failureRatio: Double = 0.8,
            initialProbeInterval: Duration = .seconds(1),
            maximumProbeInterval: Duration = .seconds(30)
        ) {
            self.windowSize = max(1, windowSize)
            self.failureRatio = min(1, max(Double.ulpOfOne, failureRatio))
            self.initialProbeInterval = initialProbeInterval
            self.maximumProbeInterval = max(initialProbeInterval, maximumProbeInterval)
        }

        /// How many transient failures in a full window mean "down".
        var failureThreshold: Int {
            max(1, Int((Double(self.windowSize) * self.failureRatio).rounded(.up)))
        }
    }

    /// How a request ended, as far as the API's health goes.
    public enum Outcome: Sendable, Hashable {
        /// The API answered with anything but a 5xx (2xx, 4xx, including 429): it is up.
        case answered
        /// 5xx, timeout or connection failure.
        case transientFailure
    }

    /// A change the caller must make.
    public enum Action: Sendable, Hashable {
        /// The API is down: stop fetching (pause partitions, keep polling), hold failed records, start probing.
        case stopFetching
        /// A probe succeeded: resume fetching and release held records.
        case resumeFetching
    }

    private enum State: Sendable {
        case up
        case down(since: ContinuousClock.Instant, nextProbeAt: ContinuousClock.Instant, interval: Duration)
        case probing(since: ContinuousClock.Instant, interval: Duration)
    }

    /// The settings.
    public let configuration: Configuration

    private var state: State = .up
    private var window: [Bool]
    private var windowPosition = 0
    private var windowFilled = 0
    private var failuresInWindow = 0

    /// - Parameter configuration: When to declare an outage and how often to probe.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.window = Array(repeating: false, count: configuration.windowSize)
    }

    /// Whether the API is considered down (fetching stopped).
    public var isDown: Bool {
        if case .up = self.state { return false }
        return true
    }

    /// When the outage started, if the API is down.
    public var downSince: ContinuousClock.Instant? {
        switch self.state {
        case .up: nil
        case .down(let since, _, _), .probing(let since, _): since
        }
    }

    /// When the next probe is due, if the API is down and no probe is running.
    public var nextProbeTime: ContinuousClock.Instant? {
        if case .down(_, let nextProbeAt, _) = self.state { return nextProbeAt }
        return nil
    }

    // MARK: - Events

    /// Records how a regular request ended. While the API is down, regular outcomes are ignored: only probes
    /// end an outage.
    ///
    /// - Parameters:
    ///   - outcome: How the request ended.
    ///   - now: The current time.
    /// - Returns: ``Action/stopFetching`` when this outcome tips the window into an outage.
    public mutating func record(_ outcome: Outcome, now: ContinuousClock.Instant) -> Action? {
        guard case .up = self.state else { return nil }
        let failed = outcome == .transientFailure
        if self.windowFilled == self.window.count {
            if self.window[self.windowPosition] {
                self.failuresInWindow -= 1
            }
        } else {
            self.windowFilled += 1
        }
        self.window[self.windowPosition] = failed
        if failed {
            self.failuresInWindow += 1
        }
        self.windowPosition = (self.windowPosition + 1) % self.window.count

        guard self.windowFilled == self.window.count,
            self.failuresInWindow >= self.configuration.failureThreshold
        else { return nil }
        let interval = self.configuration.initialProbeInterval
        self.state = .down(since: now, nextProbeAt: now + interval, interval: interval)
        return .stopFetching
    }

    /// Starts a probe when one is due: the caller sends one request (for example the oldest held event, which is
    /// idempotent) and reports it with ``recordProbe(_:now:)``.
    ///
    /// - Parameter now: The current time.
    /// - Returns: Whether to send a probe now.
    public mutating func startProbeIfDue(now: ContinuousClock.Instant) -> Bool {
        guard case .down(let since, let nextProbeAt, let interval) = self.state, now >= nextProbeAt else {
            return false
        }
        self.state = .probing(since: since, interval: interval)
        return true
    }

    /// Records how a probe ended.
    ///
    /// - Parameters:
    ///   - outcome: How the probe request ended.
    ///   - now: The current time.
    /// - Returns: ``Action/resumeFetching`` when the API answered.
    public mutating func recordProbe(_ outcome: Outcome, now: ContinuousClock.Instant) -> Action? {
        guard case .probing(let since, let interval) = self.state else { return nil }
        switch outcome {
        case .answered:
            self.state = .up
            self.resetWindow()
            return .resumeFetching
        case .transientFailure:
            let next = min(interval * 2, self.configuration.maximumProbeInterval)
            self.state = .down(since: since, nextProbeAt: now + next, interval: next)
            return nil
        }
    }

    /// Records a probe that was abandoned before it was answered (its request was cancelled): the API is still
    /// considered down, and the next probe is due at once.
    ///
    /// - Parameter now: The current time.
    public mutating func abandonProbe(now: ContinuousClock.Instant) {
        guard case .probing(let since, let interval) = self.state else { return }
        self.state = .down(since: since, nextProbeAt: now, interval: interval)
    }

    /// Whether a probe was started and has not been reported yet.
    public var isProbing: Bool {
        if case .probing = self.state { return true }
        return false
    }

    private mutating func resetWindow() {
        for index in self.window.indices {
            self.window[index] = false
        }
        self.windowPosition = 0
        self.windowFilled = 0
        self.failuresInWindow = 0
    }
}
