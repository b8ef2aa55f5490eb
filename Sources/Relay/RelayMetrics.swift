import CoreMetrics
import Synchronization

// MARK: - RelayMetrics

/// The relay's series (SPEC.md §8), prefixed `affonso_relay_`, through swift-metrics; the service bootstraps a
/// Prometheus registry behind it. Bootstrap the metrics system before creating one: handles are made through
/// the factory in place then (the gauges at once, the other series on first use, then kept).
public final class RelayMetrics: Sendable {
    private static let prefix = "affonso_relay_"
    private let inFlight: Gauge
    private let pausedPartitions: Gauge
    private let credentialsFault: Gauge
    private let bufferedBytes: Gauge
    private let rateLimitShare: Gauge
    private let conversionsKnown: Gauge
    private let consumed = HandleCache<String, Counter> { topic in
        Counter(label: prefix + "records_consumed_total", dimensions: [("topic", topic)])
    }
    private let skipped = HandleCache<String, Counter> { topic in
        Counter(label: prefix + "skipped_total", dimensions: [("topic", topic)])
    }
    private let delivered = HandleCache<LabelPair, Counter> { labels in
        Counter(
            label: prefix + "events_delivered_total",
            dimensions: [("event_type", labels.first), ("rule", labels.second)]
        )
    }
    private let failures = HandleCache<ErrorClass, Counter> { errorClass in
        Counter(label: prefix + "failures_total", dimensions: [("class", errorClass.rawValue)])
    }
    private let retried = HandleCache<String, Counter> { tier in
        Counter(label: prefix + "retried_total", dimensions: [("tier", tier)])
    }
    private let deadLettered = HandleCache<ErrorClass, Counter> { errorClass in
        Counter(label: prefix + "dead_lettered_total", dimensions: [("class", errorClass.rawValue)])
    }
    private let responses = HandleCache<Int, Counter> { status in
        // Status 0 stands for "no response" (a transport failure).
        Counter(label: prefix + "api_responses_total", dimensions: [("status", status == 0 ? "none" : String(status))])
    }
    private let committedOffsets = HandleCache<PartitionID, Gauge> { partition in
        Gauge(
            label: prefix + "committed_offset",
            dimensions: [("topic", partition.topic), ("partition", String(partition.partition))]
        )
    }
    private let lags = HandleCache<PartitionID, Gauge> { partition in
        Gauge(
            label: prefix + "consumer_lag",
            dimensions: [("topic", partition.topic), ("partition", String(partition.partition))]
        )
    }
    private let conversionsRemembered = LazyHandle { Counter(label: prefix + "conversions_remembered_total") }
    private let requestDuration = LazyHandle { Timer(label: prefix + "request_duration_seconds") }
    private let rateLimitWaits = LazyHandle { Counter(label: prefix + "rate_limit_waits_total") }
    private let rateLimitWaitSeconds = LazyHandle {
        FloatingPointCounter(label: prefix + "rate_limit_wait_seconds_total")
    }

    public init() {
        // Events accepted and not finished: sending, waiting to retry, or queued behind their key.
        inFlight = Gauge(label: Self.prefix + "in_flight")
        pausedPartitions = Gauge(label: Self.prefix + "paused_partitions")
        credentialsFault = Gauge(label: Self.prefix + "credentials_fault")
        bufferedBytes = Gauge(label: Self.prefix + "buffered_bytes")
        // The part of the plan this pod paces to (1 with rate_limit.scope pod or an unlimited plan).
        rateLimitShare = Gauge(label: Self.prefix + "rate_limit_share")
        // Conversions a refund can find (read from the conversions topic or remembered here).
        conversionsKnown = Gauge(label: Self.prefix + "conversions_known")
    }

    func recordConsumed(topic: String, count: Int = 1) {
        consumed[topic].increment(by: count)
    }

    func recordSkipped(topic: String) {
        skipped[topic].increment()
    }

    func recordDelivered(eventType: String, rule: String) {
        delivered[LabelPair(first: eventType, second: rule)].increment()
    }

    func recordFailure(_ errorClass: ErrorClass) {
        failures[errorClass].increment()
    }

    func recordRetried(tier: String) {
        retried[tier].increment()
    }

    func recordDeadLettered(_ errorClass: ErrorClass) {
        deadLettered[errorClass].increment()
    }

    /// One request: its HTTP status (`none` for transport failures), how long it took, and how long it waited for
    /// the rate limiter first.
    func recordResponse(status: Int?, duration: Duration, rateLimitWait: Duration) {
        responses[status ?? 0].increment()
        requestDuration.handle.recordNanoseconds(Self.nanoseconds(duration))
        if rateLimitWait > .zero {
            rateLimitWaits.handle.increment()
            rateLimitWaitSeconds.handle.increment(by: Double(Self.nanoseconds(rateLimitWait)) / 1e9)
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    func recordCommittable(partition: PartitionID, offset: Int64) {
        committedOffsets[partition].record(offset)
    }

    func recordLag(partition: PartitionID, lag: Int64) {
        lags[partition].record(lag)
    }

    func setPausedPartitions(_ count: Int) { pausedPartitions.record(count) }

    func setInFlight(_ count: Int) { inFlight.record(count) }

    func setCredentialsFault(_ faulted: Bool) { credentialsFault.record(faulted ? 1 : 0) }

    /// The bytes of records the relay holds, against `delivery.max_buffered_bytes`.
    func setBufferedBytes(_ bytes: Int) { bufferedBytes.record(bytes) }
    func setRateLimitShare(_ share: Double) { rateLimitShare.record(share) }

    /// A conversion was written to the conversions topic.
    func recordConversionRemembered() { conversionsRemembered.handle.increment() }

    /// How many conversions the index holds.
    func setConversionsKnown(_ count: Int) { conversionsKnown.record(count) }
}
