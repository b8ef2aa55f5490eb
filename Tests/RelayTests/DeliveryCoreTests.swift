import AffonsoAPI
import Foundation
import KafkaClient
import Testing

@testable import Relay
@testable import Rules

/// Single decisions of the delivery core, each a way the relay could stall or lose a record.
@Suite("Delivery core")
struct DeliveryCoreTests {
    static let partition = PartitionID(topic: "billing", partition: 0)
    static let now = ContinuousClock.now
    static let date = Date(timeIntervalSince1970: 1_800_000_000)

    static func core(maximumInFlight: Int = 4, conversionsTopic: String? = nil) -> DeliveryCore {
        var configuration = DeliveryPipelineConfiguration()
        configuration.conversionsTopic = conversionsTopic
        configuration.delivery = DeliveryConfiguration(maximumInFlight: maximumInFlight)
        configuration.outage = OutageDetector.Configuration(
            windowSize: 2, failureRatio: 0.5, initialProbeInterval: .seconds(1), maximumProbeInterval: .seconds(8))
        configuration.retry.inProcessAttempts = 1
        var core = DeliveryCore(configuration: configuration)
        _ = core.assigned([partition])
        return core
    }

    static func message(_ offset: Int64, value: [UInt8] = [1]) -> KafkaConsumerMessage {
        KafkaConsumerMessage(
            topic: partition.topic, partition: partition.partition, offset: offset, key: Array("k\(offset)".utf8),
            value: value)
    }

    static func event(_ offset: Int64) -> MappedEvent {
        MappedEvent(
            rule: "r", eventType: "conversion", eventName: "sale", externalEventID: "e\(offset)", sortedFields: [],
            body: [], refund: nil)
    }

    /// Fetches a record and maps it to one event.
    static func submit(_ core: inout DeliveryCore, _ offset: Int64, work: EventJob.Work? = nil) -> DeliveryCore.Actions
    {
        let (mapping, _) = core.received(message(offset), now: now, date: date)
        let ticket = mapping!.ticket
        let job = EventJob(
            ticket: ticket, source: ticket.coordinates, message: mapping!.message, envelope: nil, rule: "r",
            work: work ?? .deliver(event(offset)))
        return core.mapped(ticket, jobs: [job])
    }

    static let unavailable = AffonsoOutcome.failed(AffonsoError(code: .serverError, message: "503", status: 503))
    static let notFound = AffonsoOutcome.failed(
        AffonsoError(code: .referralNotFound, message: "no referral", status: 404))

    @Test(
        "the API goes down and the last in-flight event ends up in a retry tier: fetching resumes so a record can probe"
    )
    func closedGateWithoutJobsFetchesAProbe() {
        var core = Self.core()
        _ = Self.submit(&core, 0)
        _ = Self.submit(&core, 1)
        let first = core.takeStarted(now: Self.now, date: Self.date)!
        let second = core.takeStarted(now: Self.now, date: Self.date)!
        // The first answer is a 503 that trips the outage detector; the second, sent before, a 404 (retried later).
        var (step, _) = core.sent(first.progress, Self.unavailable, now: Self.now, date: Self.date)
        (step, _) = core.sent(first.progress, Self.unavailable, now: Self.now, date: Self.date)
        #expect(core.outage.isDown)
        if case .wait = step {} else { Issue.record("the job that saw the outage waits for it: \(step)") }
        #expect(core.pauseChanges(actual: []).pause == [Self.partition], "fetching stops while the job waits")
        _ = core.abandoned(first.progress, now: Self.now)
        (step, _) = core.sent(second.progress, Self.notFound, now: Self.now, date: Self.date)
        guard case .produce = step else {
            Issue.record("a 404 goes to a retry tier: \(step)")
            return
        }
        let (_, actions) = core.produced(second.progress, error: nil, now: Self.now)
        #expect(actions.reconcilePauses)
        #expect(
            core.pauseChanges(actual: [Self.partition]).resume == [Self.partition],
            "no job is left to probe the API: the partition is fetched again")
        // The next record's job is the probe once it is due; its 2xx reopens delivery.
        _ = Self.submit(&core, 2)
        let probe = core.takeStarted(now: Self.now + .seconds(2), date: Self.date)!
        guard case .send = probe.step else {
            Issue.record("the new record's job probes the API: \(probe.step)")
            return
        }
        _ = core.sent(
            probe.progress, .delivered(AffonsoDelivery(status: 201, responseBody: [])), now: Self.now + .seconds(2),
            date: Self.date)
        #expect(core.isDeliveryOpen)
    }

    @Test("a job started but not yet taken by a worker is dropped at a revoke, freeing its slot")
    func startedJobDroppedAtRevoke() {
        var core = Self.core(maximumInFlight: 1)
        #expect(Self.submit(&core, 0).started == 1)
        _ = core.revokeBegan([Self.partition])
        #expect(core.takeStarted(now: Self.now, date: Self.date) == nil)
        #expect(!core.isDraining([Self.partition]), "nothing is in flight for the revoked partition")
        #expect(core.dispatcher.inFlightCount == 0)
    }

    @Test("a dead letter too large for the broker is written without its value, and the offset moves on")
    func tooLargeDeadLetter() {
        var core = Self.core()
        _ = Self.submit(&core, 0, work: .deadLetter(.mapping, "bad"))
        let job = core.takeStarted(now: Self.now, date: Self.date)!
        guard case .produce(let write) = job.step, !write.value.isEmpty else {
            Issue.record("a mapping failure goes to the dead-letter topic with its value: \(job.step)")
            return
        }
        var (step, _) = core.produced(
            job.progress, error: KafkaError(code: .messageTooLarge, message: "too large"), now: Self.now)
        guard case .produce(let smaller) = step else {
            Issue.record("written again without its value: \(step)")
            return
        }
        #expect(smaller.value.isEmpty)
        #expect(smaller.topic == RetryConfiguration().deadLetterTopic)
        #expect(smaller.headers.contains { $0.key == RetryEnvelope.HeaderName.valueDropped })
        let actions: DeliveryCore.Actions
        (step, actions) = core.produced(job.progress, error: nil, now: Self.now)
        #expect(actions.offsetsToStore.map(\.1) == [1])
    }

    @Test("a fatal producer error fails liveness and the write is tried again with a bounded pause")
    func fatalProducerError() {
        var core = Self.core()
        _ = Self.submit(&core, 0, work: .deadLetter(.mapping, "bad"))
        let job = core.takeStarted(now: Self.now, date: Self.date)!
        var pauses: [Duration] = []
        for _ in 0..<12 {
            let (step, _) = core.produced(
                job.progress, error: KafkaError(code: .fatal, message: "fenced", isFatal: true), now: Self.now)
            guard case .wait(let pause) = step else {
                Issue.record("waits, then writes again: \(step)")
                return
            }
            pauses.append(pause)
            #expect({ if case .produce = core.waited(job.progress, now: Self.now).0 { true } else { false } }())
        }
        #expect(core.producerFailed, "/livez fails, so the pod is restarted")
        #expect(pauses.max() == .seconds(10))
        let (_, actions) = core.produced(job.progress, error: nil, now: Self.now)
        #expect(actions.offsetsToStore.map(\.1) == [1], "once written, the record is complete")
    }

    static func acknowledged(_ body: String) -> AffonsoOutcome {
        .delivered(AffonsoDelivery(status: 201, responseBody: Array(body.utf8)))
    }

    @Test("an acknowledged conversion is complete only once it is remembered for refunds; a failed write is retried")
    func conversionRememberedBeforeComplete() {
        var core = Self.core(conversionsTopic: "relay.conversions")
        _ = Self.submit(&core, 0)
        let job = core.takeStarted(now: Self.now, date: Self.date)!
        var (step, actions) = core.sent(
            job.progress, Self.acknowledged(#"{"success":true,"data":{"id":"com_1","status":"pending"}}"#),
            now: Self.now, date: Self.date)
        guard case .remember(let memory) = step else {
            Issue.record("the conversion is remembered first: \(step)")
            return
        }
        #expect(memory.conversionID == "com_1" && memory.externalEventID == "e0")
        #expect(actions.offsetsToStore.isEmpty, "nothing is stored before the conversion is remembered")
        (step, actions) = core.produced(
            job.progress, error: KafkaError(code: .broker, message: "not enough replicas", isRetriable: true),
            now: Self.now)
        #expect(actions.offsetsToStore.isEmpty)
        #expect({ if case .remember = core.waited(job.progress, now: Self.now).0 { true } else { false } }())
        (step, actions) = core.produced(job.progress, error: nil, now: Self.now)
        #expect(actions.offsetsToStore.map(\.1) == [1])
        #expect(core.conversions.conversionID(for: "e0") == "com_1", "this member can refund it at once")
    }

    @Test("a conversion acknowledged without an id is complete, with a warning; without refunds nothing is remembered")
    func conversionWithoutID() {
        var core = Self.core(conversionsTopic: "relay.conversions")
        _ = Self.submit(&core, 0)
        let job = core.takeStarted(now: Self.now, date: Self.date)!
        let (step, actions) = core.sent(
            job.progress, Self.acknowledged(#"{"success":true,"data":{}}"#), now: Self.now, date: Self.date)
        #expect({ if case .finished = step { true } else { false } }())
        #expect(actions.offsetsToStore.map(\.1) == [1])
        #expect(actions.notices.contains { if case .conversionWithoutID = $0 { true } else { false } })

        var plain = Self.core()
        _ = Self.submit(&plain, 0)
        let other = plain.takeStarted(now: Self.now, date: Self.date)!
        let (plainStep, _) = plain.sent(
            other.progress, Self.acknowledged(#"{"success":true,"data":{"id":"com_1"}}"#), now: Self.now,
            date: Self.date)
        #expect({ if case .finished = plainStep { true } else { false } }())
    }
}
