// MARK: - DeliveryConfiguration

/// How records are delivered (`delivery:` in relay.yaml, SPEC.md §2 and §6). The retry-related settings
/// (`in_process_attempts`, `referral_not_found`) live in ``RetryConfiguration``.
public struct DeliveryConfiguration: Sendable, Hashable {
    /// What happens to a record no rule matches (`delivery.unmatched`).
    public enum UnmatchedHandling: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The record is complete without sending anything.
        case skip
        /// The record goes to the dead-letter topic.
        case deadLetter = "dead_letter"

        public var description: String { rawValue }
    }

    /// How many requests may be in flight at once, across all partitions (`delivery.max_in_flight`). Default: 256.
    public var maximumInFlight: Int
    /// Which records are delivered in offset order (`delivery.ordering`). Default: ``DeliveryOrdering/key``.
    public var ordering: DeliveryOrdering
    /// What happens to unmatched records (`delivery.unmatched`). Default: ``UnmatchedHandling/skip``.
    public var unmatched: UnmatchedHandling

    /// - Parameters:
    ///   - maximumInFlight: How many requests may be in flight at once.
    ///   - ordering: Which records are delivered in offset order.
    ///   - unmatched: What happens to unmatched records.
    public init(maximumInFlight: Int = 256, ordering: DeliveryOrdering = .key, unmatched: UnmatchedHandling = .skip) {
        self.maximumInFlight = maximumInFlight
        self.ordering = ordering
        self.unmatched = unmatched
    }

    /// The dispatcher settings: pause fetching at 2 × `maximumInFlight` buffered records but at least
    /// ``minimumPauseThreshold``; resume at `maximumInFlight`. (Bytes are bounded by the consumer's byte budget,
    /// `delivery.max_buffered_bytes`, which every record the relay holds draws from.)
    public var dispatcherConfiguration: DispatcherConfiguration {
        DispatcherConfiguration(
            maximumInFlight: self.maximumInFlight,
            ordering: self.ordering,
            pauseThreshold: max(2 * self.maximumInFlight, Self.minimumPauseThreshold)
        )
    }

    /// Fewest buffered records at which fetching pauses. Every pause and resume costs the consumer a pass over
    /// its buffer and librdkafka a re-fetch; pausing every 64 records (2 × 64 − 64) took 15–20 % of the relay's
    /// CPU with a backlog (docs/benchmarks.md, "Relay"). A thousand buffered records are a few megabytes.
    public static let minimumPauseThreshold = 1_024

    /// Checks the settings are in range.
    ///
    /// - Throws: ``RelayError`` with code ``RelayError/Code/invalidConfiguration`` naming the setting and the fix.
    public func validate() throws(RelayError) {
        guard self.maximumInFlight >= 1 else {
            throw RelayError(
                code: .invalidConfiguration,
                message: "delivery.max_in_flight is \(self.maximumInFlight); set it to 1 or more (default 256)"
            )
        }
    }
}
