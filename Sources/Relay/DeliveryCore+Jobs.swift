import AffonsoAPI
import Foundation
import KafkaClient
import Rules

// MARK: - Jobs

extension DeliveryCore {
    /// A job a worker carries: what it has done so far. Only the core changes it; the worker hands it back with
    /// each result.
    ///
    /// A class, so that handing it between the worker and the core is one reference, not a copy of the job, the
    /// write and the memory it holds. `@unchecked Sendable`: one worker holds it at a time, and only the core's
    /// methods change it, under the driver's lock.
    final class JobProgress: @unchecked Sendable {
        let job: Job
        /// Which try of this round the next request is, from 1.
        fileprivate(set) var inProcessAttempt = 1
        /// The turn of the request in flight, if one is.
        fileprivate(set) var sending: Turn?
        /// The retry-tier or dead-letter record being written, once the event failed.
        fileprivate(set) var write: Write?
        /// The conversion being remembered, once it was acknowledged.
        fileprivate(set) var memory: ConversionMemory?
        fileprivate(set) var externalEventID: String?
        /// The pause before the next try of a failed write.
        fileprivate var writePause = Duration.milliseconds(100)

        init(job: Job) {
            self.job = job
        }
    }

    /// What a worker does next with its job.
    enum Step: Sendable {
        /// Send the event (``sent(_:_:now:date:)`` takes the outcome).
        case send(MappedEvent)
        /// Send the refund to the conversion with this Affonso id (``sent(_:_:now:date:)`` takes the outcome).
        case sendRefund(MappedEvent, conversionID: String)
        /// Sleep, then call ``waited(_:now:)``.
        case wait(Duration)
        /// Write the record to a retry tier or the dead-letter topic (``produced(_:error:now:)`` takes the result).
        case produce(Write)
        /// Write the acknowledged conversion to the conversions topic (``produced(_:error:now:)`` takes the result).
        case remember(ConversionMemory)
        /// The job is over: the worker takes the next one.
        case finished
    }

    /// A worker takes the oldest job the dispatcher started.
    /// - Returns: the job and its first step, or nil when none is waiting (it was dropped at a revoke).
    mutating func takeStarted(
        now: ContinuousClock.Instant, date: Date
    ) -> (progress: JobProgress, step: Step, actions: Actions)? {
        guard let job = started.popFirst() else { return nil }
        let progress = JobProgress(job: job)
        var actions = Actions()
        switch job.element.work {
        case .deliver(let event):
            progress.externalEventID = event.externalEventID
            let step = nextTurn(progress, event, now: now, date: date, &actions)
            return (progress, step, actions)
        case .deadLetter(let errorClass, let message):
            actions.notices.append(.failed(errorClass))
            let destination = Destination(
                topic: configuration.retry.deadLetterTopic, tier: nil,
                attempt: RetryPolicy.nextAttempt(after: job.element.envelope?.attempt ?? 0), notBefore: date)
            let write = write(for: job.element, to: destination, errorClass, message, status: nil, date: date)
            progress.write = write
            return (progress, .produce(write), actions)
        }
    }

    /// A wait is over: send (or probe) if the gates allow, write again, or wait on.
    mutating func waited(
        _ progress: JobProgress, now: ContinuousClock.Instant, date: Date = Date()
    ) -> (Step, Actions) {
        if let memory = progress.memory { return (.remember(memory), Actions()) }
        if let write = progress.write { return (.produce(write), Actions()) }
        var actions = Actions()
        guard case .deliver(let event) = progress.job.element.work else {
            finished(progress.job, &actions)
            return (.finished, sealed(actions))
        }
        return (nextTurn(progress, event, now: now, date: date, &actions), actions)
    }

    /// How long a refund waits for the conversions topic to be read before its conversion counts as unknown.
    static let conversionWait = Duration.seconds(1)

    /// Sends when delivery is open or this job is the one to probe a fault; otherwise waits (at most a second, so
    /// a probe that became due is not missed by much). A refund first needs its conversion's Affonso id: unknown,
    /// it waits while the conversions topic is still being read, then fails as `conversion_not_found`.
    private mutating func nextTurn(
        _ progress: JobProgress, _ event: MappedEvent, now: ContinuousClock.Instant, date: Date,
        _ actions: inout Actions
    ) -> Step {
        var conversionID: String?
        if let refund = event.refund {
            conversionID = conversions.conversionID(for: refund.conversionExternalEventID)
            if conversionID == nil {
                if configuration.conversionsTopic != nil, !conversionsCaughtUp { return .wait(Self.conversionWait) }
                let message =
                    "no conversion with external_event_id '\(refund.conversionExternalEventID)' is known: it was not "
                    + "delivered yet, or was delivered before refunds were on (or over refunds.window ago)"
                return fail(progress, event, .conversionNotFound, message, status: nil, now: now, date: date, &actions)
            }
        }
        let (turn, wait) = turn(now: now)
        guard let turn else { return .wait(min(max(wait, .milliseconds(10)), .seconds(1))) }
        progress.sending = turn
        if let conversionID { return .sendRefund(event, conversionID: conversionID) }
        return .send(event)
    }

    /// An answer (or a transport failure) arrived for the job's request.
    mutating func sent(
        _ progress: JobProgress, _ outcome: AffonsoOutcome, now: ContinuousClock.Instant, date: Date
    ) -> (Step, Actions) {
        var actions = Actions()
        let turn = progress.sending ?? .regular
        progress.sending = nil
        let element = progress.job.element
        guard case .deliver(let event) = element.work else {
            finished(progress.job, &actions)
            return (.finished, sealed(actions))
        }
        let failure: AffonsoError
        switch outcome {
        case .delivered(let delivery):
            note(.answered, turn, now: now, &actions)
            actions.notices.append(.delivered(event, origin: element.envelope?.original ?? element.source))
            if configuration.conversionsTopic != nil, event.eventType == "conversion", !event.isRefund {
                // Refunds need the conversion's Affonso id: the record is complete once it is remembered.
                if let memory = ConversionMemory(event, delivery: delivery, date: date) {
                    progress.memory = memory
                    return (.remember(memory), actions)
                }
                actions.notices.append(.conversionWithoutID(event))
            }
            finished(progress.job, &actions)
            return (.finished, sealed(actions))
        case .failed(let error):
            failure = error
        }
        if failure.errorClass == .credentials || failure.code == .apiKeyUnavailable {
            // Held, not failed: nothing is dead-lettered for a key the operator can fix.
            note(.refusedKey(status: failure.status ?? 401), turn, now: now, &actions)
            return (nextTurn(progress, event, now: now, date: date, &actions), actions)
        }
        if failure.errorClass == .rateLimited {
            // The client's limiter already waits out the 429's Retry-After before the next send.
            note(.answered, turn, now: now, &actions)
            return (nextTurn(progress, event, now: now, date: date, &actions), actions)
        }
        let errorClass = ErrorClass(rawValue: failure.errorClass.rawValue) ?? .clientError
        note(errorClass.isTransient ? .unanswered : .answered, turn, now: now, &actions)
        if turn == .credentialsProbe, errorClass.isTransient, !credentials.isReady {
            // The probe learnt nothing about the key: this job probes again at the next probe time (if it went to
            // a retry tier instead, the gate could stay closed with no job left to probe it).
            actions.notices.append(.failed(errorClass))
            return (nextTurn(progress, event, now: now, date: date, &actions), actions)
        }
        let step = fail(
            progress, event, errorClass, failure.message, status: failure.status, now: now, date: date, &actions)
        return (step, actions)
    }

    /// An event (or refund) failed: try again in process, wait for the API, or write it to a retry tier or the
    /// dead-letter topic, as the retry policy decides.
    private mutating func fail(
        _ progress: JobProgress, _ event: MappedEvent, _ errorClass: ErrorClass, _ message: String,
        status: Int?, now: ContinuousClock.Instant, date: Date, _ actions: inout Actions
    ) -> Step {
        let element = progress.job.element
        actions.notices.append(.failed(errorClass))
        let decision = policy.decide(
            .failed(errorClass),
            previousAttempts: element.envelope?.attempt ?? 0,
            inProcessAttempt: progress.inProcessAttempt,
            apiIsDown: outage.isDown,
            now: date,
            using: &jitter
        )
        switch decision {
        case .retryInProcess(let pause):
            progress.inProcessAttempt += 1
            return .wait(pause)
        case .waitForRecovery, .waitForRateLimit, .waitForCredentials:
            return nextTurn(progress, event, now: now, date: date, &actions)
        case .retryTier(let topic, let tier, let attempt, let notBefore):
            let destination = Destination(topic: topic, tier: tier, attempt: attempt, notBefore: notBefore)
            return route(progress, to: destination, errorClass, message, status: status, date: date)
        case .deadLetter(let topic, let attempt):
            let destination = Destination(topic: topic, tier: nil, attempt: attempt, notBefore: date)
            return route(progress, to: destination, errorClass, message, status: status, date: date)
        }
    }

    /// The broker answered the job's retry-tier or dead-letter write.
    /// - Parameter error: nil when the write was acknowledged.
    mutating func produced(
        _ progress: JobProgress, error: KafkaError?, now: ContinuousClock.Instant
    ) -> (Step, Actions) {
        var actions = Actions()
        if let memory = progress.memory {
            guard let error else {
                conversions.insert(memory.externalEventID, conversionID: memory.conversionID)
                actions.notices.append(.remembered(memory))
                finished(progress.job, &actions)
                return (.finished, sealed(actions))
            }
            return (retryWrite(progress, topic: configuration.conversionsTopic ?? "", error, &actions), actions)
        }
        guard let write = progress.write else { return (.finished, actions) }
        guard let error else {
            actions.notices.append(
                .routed(write, rule: progress.job.element.rule, externalEventID: progress.externalEventID))
            finished(progress.job, &actions)
            return (.finished, sealed(actions))
        }
        if error.code == .messageTooLarge,
            let smaller = write.withoutValue(
                deadLetterTopic: configuration.retry.deadLetterTopic, error: error,
                knownSecrets: configuration.knownSecrets)
        {
            // Retrying cannot help: the record never fits. Its coordinates and headers still go to the dead-letter
            // topic, so nothing vanishes and its partition moves on.
            actions.notices.append(.valueDropped(from: write, error: error, bytes: write.value.count))
            progress.write = smaller
            return (.produce(smaller), actions)
        }
        return (retryWrite(progress, topic: write.topic, error, &actions), actions)
    }

    /// A write failed in a way retrying may help (or a fatal error a restart fixes): wait, then write again.
    private mutating func retryWrite(
        _ progress: JobProgress, topic: String, _ error: KafkaError, _ actions: inout Actions
    ) -> Step {
        if error.isFatal, !producerFailed {
            producerFailed = true
            actions.notices.append(.producerFailedFatally(error))
        }
        actions.notices.append(.produceFailed(topic: topic, error: error, source: progress.job.element.source))
        let pause = progress.writePause
        progress.writePause = min(pause * 2, .seconds(10))
        return .wait(pause)
    }

    // MARK: Conversions

    /// A conversion read from the conversions topic (by this member or another).
    mutating func conversionRead(externalEventID: String, conversionID: String) {
        conversions.insert(externalEventID, conversionID: conversionID)
    }

    /// The worker was cancelled (shutdown past its deadline): the job's record stays incomplete, read again by
    /// the partition's next owner.
    mutating func abandoned(_ progress: JobProgress, now: ContinuousClock.Instant) -> Actions {
        var actions = Actions()
        if let turn = progress.sending { note(.abandoned, turn, now: now, &actions) }
        finishRunning(progress.job)
        merge(dispatcher.finish(progress.job), &actions)
        remaining[progress.job.element.ticket] = nil
        return sealed(actions)
    }

    // MARK: Completion

    /// A job is done (delivered, or durably routed to a retry or dead-letter topic): its record may be complete.
    private mutating func finished(_ job: Job, _ actions: inout Actions) {
        finishRunning(job)
        merge(dispatcher.finish(job), &actions)
        let ticket = job.element.ticket
        guard let count = remaining[ticket] else { return }
        if count <= 1 {
            remaining[ticket] = nil
            complete(ticket, &actions)
        } else {
            remaining[ticket] = count - 1
        }
    }

    mutating func finishRunning(_ job: Job) {
        let count = (running[job.partition] ?? 1) - 1
        running[job.partition] = count > 0 ? count : nil
    }

    /// Where a failed event's record is written.
    struct Destination {
        var topic: String
        /// The retry tier's index; nil for the dead-letter topic.
        var tier: Int?
        var attempt: Int
        var notBefore: Date
    }

    private func route(
        _ progress: JobProgress, to destination: Destination, _ errorClass: ErrorClass, _ message: String,
        status: Int?, date: Date
    ) -> Step {
        let write = write(
            for: progress.job.element, to: destination, errorClass, message, status: status, date: date)
        progress.write = write
        return .produce(write)
    }

    /// The retry-tier or dead-letter record for a failed event, with the relay headers.
    private func write(
        for event: EventJob, to destination: Destination, _ errorClass: ErrorClass, _ message: String,
        status: Int?, date: Date
    ) -> Write {
        let envelope = RetryEnvelope.failure(
            after: event.envelope,
            record: event.source,
            timestamp: event.message.timestampMilliseconds.map(WallClock.date(milliseconds:)),
            rule: event.rule,
            errorClass: errorClass,
            message: message,
            status: status,
            attempt: destination.attempt,
            notBefore: destination.notBefore,
            now: date,
            knownSecrets: configuration.knownSecrets
        )
        return Write(
            topic: destination.topic, tier: destination.tier, envelope: envelope, value: event.message.value,
            headers: envelope.headers(keeping: event.message.headers))
    }
}
