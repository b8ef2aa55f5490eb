import Foundation
import KafkaClient
import Rules

// MARK: - DeliveryCore

/// Every decision of the delivery pipeline, without I/O: what to do with a fetched record, when a job may send,
/// what a response or a producer result leads to, which offsets may be stored, which partitions are fetched, when a
/// held retry record is released, and what a rebalance or a shutdown changes.
///
/// Each input is one method (a record received, a mapping done, a send or produce result, a wait over, a release
/// due, a rebalance, a shutdown); each returns what the driver (``DeliveryPipeline``) must do next. The driver holds
/// the core in one `Mutex`, takes the lock once per input, and performs the returned actions outside it: HTTP
/// requests, producer writes, offset stores, pauses and resumes, log lines and metrics.
///
/// The smaller machines it composes: ``OffsetTracker`` (what may be committed), ``KeyedDispatcher`` (ordering
/// lanes, the in-flight limit, backpressure), ``OutageDetector`` and ``CredentialsGate`` (whether the API may be
/// sent to, and who probes it), ``RetryPolicy`` (where a failure goes).
struct DeliveryCore {
    typealias Job = KeyedDispatcher<EventJob>.Job

    /// What the driver must do after an input, besides its direct answer.
    struct Actions {
        /// Jobs started: as many workers must be woken to take them (``takeStarted(now:date:)``).
        var started = 0
        var offsetsToStore: [(PartitionID, Int64)] = []
        /// Whether the wanted set of fetched partitions may have changed: the driver reconciles the consumer's
        /// pauses with ``pauseChanges(actual:)``.
        var reconcilePauses = false
        /// The dispatcher has room again: the consumer task, waiting while it was full, takes records again.
        var intakeOpened = false
        var notices: [Notice] = []
        /// Jobs queued and in flight after the input, for the gauge.
        var buffered: Int?

        /// Adds what a later input decided (the driver performs the inputs of a batch at once).
        mutating func absorb(_ later: Actions) {
            started += later.started
            offsetsToStore += later.offsetsToStore
            reconcilePauses = reconcilePauses || later.reconcilePauses
            intakeOpened = intakeOpened || later.intakeOpened
            notices += later.notices
            buffered = later.buffered ?? buffered
        }
    }

    /// What happened, for the driver's log lines and metrics (decided here, written there).
    enum Notice {
        case delivered(MappedEvent, origin: RecordCoordinates)
        case failed(ErrorClass)
        case routed(Write, rule: String, externalEventID: String?)
        case valueDropped(from: Write, error: KafkaError, bytes: Int)
        case produceFailed(topic: String, error: KafkaError, source: RecordCoordinates)
        case producerFailedFatally(KafkaError)
        case gates(GateChanges)
        case retryHeld(PartitionID, delay: Duration)
        case remembered(ConversionMemory)
        /// A conversion was acknowledged without an Affonso id to remember: refunds of it cannot be sent.
        case conversionWithoutID(MappedEvent)
    }

    let configuration: DeliveryPipelineConfiguration
    let policy: RetryPolicy
    let retryTopics: Set<String>
    /// Each retry tier's delay, by topic: the longest a record read from it waits.
    let tierDelays: [String: Duration]

    var tracker = OffsetTracker()
    var dispatcher: KeyedDispatcher<EventJob>
    /// Jobs the dispatcher started that no worker took yet, in start order.
    var started = FIFOBuffer<Job>()
    /// Jobs started and not finished, per partition (revoked partitions drain these).
    var running: [PartitionID: Int] = [:]
    /// Events still unfinished per record; a record is complete when its count reaches zero.
    var remaining: [OffsetTracker.Ticket: Int] = [:]
    /// Retry records waiting for their `not_before`, per retry partition, in offset order.
    var held: [PartitionID: [KafkaConsumerMessage]] = [:]
    /// When each retry partition with held records is to be released next.
    var releaseTimes: [PartitionID: ContinuousClock.Instant] = [:]
    /// Retry partitions whose due records are being released: records arriving meanwhile queue in `held`.
    var releasing: Set<PartitionID> = []
    var outage: OutageDetector
    var credentials: CredentialsGate
    /// Partitions being revoked: new records of theirs are ignored (their next owner reads them).
    var revoking: Set<PartitionID> = []
    /// Graceful shutdown started.
    var isDraining = false
    /// When a graceful shutdown must be over, once it started.
    var shutdownDeadline: ContinuousClock.Instant?
    /// Partitions that should be paused, as of the last ``pauseChanges(actual:)``.
    var paused: Set<PartitionID> = []
    /// The producer failed fatally: retry and dead-letter records cannot be written until a restart.
    var producerFailed = false
    /// ``needsProbeJob`` as of the last decision (a change reconciles fetching).
    var isFetchingForProbe = false
    /// Every remembered conversion's Affonso id, by its external_event_id (read from the conversions topic, and
    /// added as this member remembers conversions).
    var conversions = ConversionIndex()
    /// Whether the conversions topic was read to its end since start-up: until then an unknown conversion may
    /// only not be read yet.
    var conversionsCaughtUp = false
    /// Where the retry backoff's jitter comes from: the system's generator, or a seeded one in a test, so that a
    /// schedule replays from its seed.
    var jitter: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()

    init(configuration: DeliveryPipelineConfiguration) {
        self.configuration = configuration
        policy = RetryPolicy(configuration: configuration.retry)
        retryTopics = Set(configuration.retryTopics)
        tierDelays = Dictionary(
            configuration.retry.tiers.map { ($0.topic, $0.delay) }, uniquingKeysWith: { first, _ in first })
        dispatcher = KeyedDispatcher(configuration: configuration.delivery.dispatcherConfiguration)
        outage = OutageDetector(configuration: configuration.outage)
        credentials = CredentialsGate(probeInterval: configuration.credentialsProbeInterval)
    }

    /// Whether the dispatcher holds as many events as it may (2 × `max_in_flight`, at least 1,024): the consumer task takes no
    /// more until it has room. Backpressure stops taking, not fetching: pausing a partition makes librdkafka drop
    /// what it prefetched, and each resume then waits a fetch round trip with nothing to send. What is fetched
    /// meanwhile stays bounded by the consumer's byte budget.
    var isFull: Bool { dispatcher.isPaused }

    var isReady: Bool { credentials.isReady && !outage.isDown && !isDraining && !producerFailed }

    /// Whether jobs may send requests (as opposed to waiting for a probe to clear a fault).
    var isDeliveryOpen: Bool { credentials.isReady && !outage.isDown }

    /// Adds the gauge's count to what an input decided, and whether fetching must change because a closed gate
    /// lost (or found) a job to probe with.
    mutating func sealed(_ actions: Actions) -> Actions {
        var actions = actions
        actions.buffered = dispatcher.bufferedCount
        if isFetchingForProbe != needsProbeJob {
            isFetchingForProbe.toggle()
            actions.reconcilePauses = true
        }
        return actions
    }

    /// A gate is closed and no job is left to probe it with: fetching resumes until a record's job can probe
    /// (otherwise nothing would ever send the probe that reopens it, and every partition would stay paused).
    var needsProbeJob: Bool { !isDeliveryOpen && running.isEmpty }

    // MARK: Shutdown

    /// A graceful shutdown started: nothing more is fetched; in-flight work drains until `deadline`.
    mutating func shutdownBegan(deadline: ContinuousClock.Instant) -> Actions {
        isDraining = true
        shutdownDeadline = deadline
        return Actions(reconcilePauses: true)
    }
}

// MARK: - EventJob

/// One event of one record, on its way to Affonso (or straight to the dead-letter topic). A class: a job is
/// handed from the dispatcher to a worker and back several times, and copying its fields (the record, the
/// envelope, the event) at each hand-off was a fifth of the relay's CPU in retains and releases.
final class EventJob: Sendable {
    enum Work: Sendable {
        case deliver(MappedEvent)
        case deadLetter(ErrorClass, String)
    }

    let ticket: OffsetTracker.Ticket
    /// Where the record was read (a retry tier's own coordinates for a retried record).
    let source: RecordCoordinates
    let message: KafkaConsumerMessage
    /// The relay headers the record carried, when it came from a retry tier.
    let envelope: RetryEnvelope?
    let rule: String
    let work: Work

    init(
        ticket: OffsetTracker.Ticket, source: RecordCoordinates, message: KafkaConsumerMessage,
        envelope: RetryEnvelope?, rule: String, work: Work
    ) {
        self.ticket = ticket
        self.source = source
        self.message = message
        self.envelope = envelope
        self.rule = rule
        self.work = work
    }
}

// MARK: - Write

/// A retry-tier or dead-letter record about to be written.
struct Write: Sendable {
    var topic: String
    /// The retry tier's index, or nil for the dead-letter topic.
    var tier: Int?
    var envelope: RetryEnvelope
    var value: [UInt8]
    var headers: [RecordHeader]

    /// The same record as a dead letter without its value (and, if it already had none, without the original
    /// record's own headers), with a header saying what was dropped; nil when nothing is left to drop.
    func withoutValue(deadLetterTopic: String, error: KafkaError, knownSecrets: [String]) -> Write? {
        let original = envelope.original
        let keptHeaders: [RecordHeader]
        if !value.isEmpty {
            keptHeaders = headers.filter { !$0.key.hasPrefix(RetryEnvelope.HeaderName.prefix) }
        } else if headers.contains(where: { !$0.key.hasPrefix(RetryEnvelope.HeaderName.prefix) }) {
            keptHeaders = []
        } else {
            return nil
        }
        let letter = RetryEnvelope(
            attempt: envelope.attempt, rule: envelope.rule, original: original,
            originalTimestamp: envelope.originalTimestamp, errorClass: .recordTooLarge,
            errorMessage: "could not write it to \(topic) (\(error.message)); dead-lettered without its value "
                + "(\(value.count) bytes)\(keptHeaders.isEmpty ? " and headers" : ""): the original is at "
                + "\(original.topic)[\(original.partition)]@\(original.offset)",
            errorStatus: nil, firstFailureAt: envelope.firstFailureAt, notBefore: Date(),
            knownSecrets: knownSecrets)
        let dropped = RecordHeader(
            key: RetryEnvelope.HeaderName.valueDropped,
            value: Array("\(value.count)".utf8))
        return Write(
            topic: deadLetterTopic, tier: nil, envelope: letter, value: [],
            headers: letter.headers(keeping: keptHeaders) + [dropped])
    }
}
