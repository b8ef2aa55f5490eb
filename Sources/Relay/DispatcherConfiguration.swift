// MARK: - DispatcherConfiguration

/// How much ``KeyedDispatcher`` runs at once, its ordering, and when it asks to pause and resume fetching.
public struct DispatcherConfiguration: Sendable, Hashable {
    /// How many records may be in flight at once, across all partitions (`delivery.max_in_flight`).
    /// Default: 256.
    public var maximumInFlight: Int
    /// Which records are delivered in offset order. Default: ``DeliveryOrdering/key``.
    public var ordering: DeliveryOrdering
    /// Pause fetching when this many records are accepted and unfinished (in flight plus queued).
    /// Default: 2 × `maximumInFlight`.
    public var pauseThreshold: Int
    /// Resume fetching when no more than this many records are accepted and unfinished.
    /// Default: `maximumInFlight`.
    public var resumeThreshold: Int
    // Bytes are bounded once, before records reach the dispatcher: the consumer's byte budget
    // (`delivery.max_buffered_bytes`).

    /// - Parameters:
    ///   - maximumInFlight: How many records may be in flight at once; at least 1.
    ///   - ordering: Which records are delivered in offset order.
    ///   - pauseThreshold: Pause when this many are buffered; defaults to 2 × `maximumInFlight`.
    ///   - resumeThreshold: Resume when no more are buffered; defaults to `maximumInFlight`, and is kept
    ///     below `pauseThreshold`.
    public init(
        maximumInFlight: Int = 256,
        ordering: DeliveryOrdering = .key,
        pauseThreshold: Int? = nil,
        resumeThreshold: Int? = nil
    ) {
        let maximumInFlight = max(1, maximumInFlight)
        self.maximumInFlight = maximumInFlight
        self.ordering = ordering
        let pause = max(1, pauseThreshold ?? 2 * maximumInFlight)
        self.pauseThreshold = pause
        self.resumeThreshold = min(max(0, resumeThreshold ?? maximumInFlight), pause - 1)
    }
}
