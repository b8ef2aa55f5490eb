import CoreMetrics
import Synchronization

// MARK: - RelayMetrics

/// The relay's series (SPEC.md §8), prefixed `affonso_relay_`, through swift-metrics; the service bootstraps a
/// Prometheus registry behind it.
public final class RelayMetrics: Sendable {
    private let prefix = "affonso_relay_"
    private let inFlight: Gauge
    private let pausedPartitions: Gauge
    private let credentialsFault: Gauge

    public init() {
        // Events accepted and not finished: sending, waiting to retry, or queued behind their key.
        inFlight = Gauge(label: prefix + "in_flight")
        pausedPartitions = Gauge(label: prefix + "paused_partitions")
        credentialsFault = Gauge(label: prefix + "credentials_fault")
    }

    func recordConsumed(topic: String) {
        Counter(label: prefix + "records_consumed_total", dimensions: [("topic", topic)]).increment()
    }

    func recordSkipped(topic: String) {
        Counter(label: prefix + "skipped_total", dimensions: [("topic", topic)]).increment()
    }

    func recordDelivered(eventType: String, rule: String) {
        Counter(label: prefix + "events_delivered_total", dimensions: [("event_type", eventType), ("rule", rule)])
            .increment()
    }

    func recordFailure(_ errorClass: ErrorClass) {
        Counter(label: prefix + "failures_total", dimensions: [("class", errorClass.rawValue)]).increment()
    }

    func recordRetried(tier: String) {
        Counter(label: prefix + "retried_total", dimensions: [("tier", tier)]).increment()
    }

    func recordDeadLettered(_ errorClass: ErrorClass) {
        Counter(label: prefix + "dead_lettered_total", dimensions: [("class", errorClass.rawValue)]).increment()
    }

    /// One request: its HTTP status (`none` for transport failures), how long it took, and how long it waited for
    /// the rate limiter first.
    func recordResponse(status: Int?, duration: Duration, rateLimitWait: Duration) {
        let status = status.map(String.init) ?? "none"
        Counter(label: prefix + "api_responses_total", dimensions: [("status", status)]).increment()
        Timer(label: prefix + "request_duration_seconds").recordNanoseconds(Self.nanoseconds(duration))
        if rateLimitWait > .zero {
            Counter(label: prefix + "rate_limit_waits_total").increment()
            FloatingPointCounter(label: prefix + "rate_limit_wait_seconds_total").increment(
                by: Double(Self.nanoseconds(rateLimitWait)) / 1e9)
        }
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    func recordCommittable(partition: PartitionID, offset: Int64) {
        Gauge(
            label: prefix + "committed_offset",
            dimensions: [("topic", partition.topic), ("partition", String(partition.partition))]
        ).record(offset)
    }

    func recordLag(partition: PartitionID, lag: Int64) {
        Gauge(
            label: prefix + "consumer_lag",
            dimensions: [("topic", partition.topic), ("partition", String(partition.partition))]
        ).record(lag)
    }

    func setPausedPartitions(_ count: Int) { pausedPartitions.record(count) }

    func setInFlight(_ count: Int) { inFlight.record(count) }

    func setCredentialsFault(_ faulted: Bool) { credentialsFault.record(faulted ? 1 : 0) }
}
