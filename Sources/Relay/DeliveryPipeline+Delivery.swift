import AffonsoAPI
import Foundation
import KafkaClient
import Logging
import Rules

// MARK: - Workers

extension DeliveryPipeline {
    /// A job a worker took, with its first step and what taking it decided.
    typealias TakenJob = (progress: DeliveryCore.JobProgress, step: DeliveryCore.Step, actions: DeliveryCore.Actions)

    /// A delivery worker: parks until a job is started, carries it to its end, and takes the next.
    func work() async {
        while await jobsStarted.wait() {
            var next = state.withLock { $0.takeStarted(now: .now, date: Date()) }
            // nil: dropped at a revoke before any worker took it.
            while let (progress, step, actions) = next {
                perform(actions)
                next = await carry(progress, from: step)
            }
        }
    }

    /// When a job's last step started another job: the finishing worker takes it in the same critical section
    /// instead of waking a parked worker and parking itself (a wake, a park and a lock fewer per event).
    private static func takeNext(
        _ core: inout DeliveryCore, after step: DeliveryCore.Step, _ actions: inout DeliveryCore.Actions,
        now: ContinuousClock.Instant, date: Date
    ) -> TakenJob? {
        guard case .finished = step, actions.started > 0, let next = core.takeStarted(now: now, date: date)
        else { return nil }
        actions.started -= 1
        return next
    }

    /// Performs a job's steps as the core decides them, until it is finished or the worker is cancelled.
    /// - Returns: the job the worker took when this one finished, if it took one.
    private func carry(_ progress: DeliveryCore.JobProgress, from first: DeliveryCore.Step) async -> TakenJob? {
        var step = first
        var next: TakenJob?
        while true {
            switch step {
            case .finished:
                return next
            case .send(let event):
                let answer = await send(progress, taking: &next) {
                    try await self.client.sendMeasured(body: event.body, externalEventID: event.externalEventID)
                }
                guard let answer else { return abandon(progress) }
                step = answer
            case .sendRefund(let refund, let conversionID):
                let answer = await send(progress, taking: &next) {
                    try await self.client.sendRefund(
                        conversionID: conversionID, body: refund.body, externalEventID: refund.externalEventID)
                }
                guard let answer else { return abandon(progress) }
                step = answer
            case .wait(let duration):
                do { try await Task.sleep(for: duration) } catch { return abandon(progress) }
                let actions: DeliveryCore.Actions
                let (now, date) = (ContinuousClock.now, Date())
                (step, actions, next) = state.withLock { core in
                    var (step, actions) = core.waited(progress, now: now, date: date)
                    let next = Self.takeNext(&core, after: step, &actions, now: now, date: date)
                    return (step, actions, next)
                }
                perform(actions)
            case .remember(let memory):
                let answer = await write(progress, taking: &next) {
                    try await self.producer.send(
                        topic: self.configuration.conversionsTopic ?? "", key: memory.key, value: memory.value)
                }
                guard let answer else { return abandon(progress) }
                step = answer
            case .produce(let write):
                let key = progress.job.element.message.key
                let answer = await self.write(progress, taking: &next) {
                    try await self.producer.send(
                        topic: write.topic, key: key, value: write.value, headers: write.headers)
                }
                guard let answer else { return abandon(progress) }
                step = answer
            }
        }
    }

    /// Sends a job's request and hands the outcome to the core.
    /// - Returns: the next step; nil when the worker was cancelled first.
    private func send(
        _ progress: DeliveryCore.JobProgress,
        taking next: inout TakenJob?,
        _ request: () async throws -> AffonsoSendResult
    ) async -> DeliveryCore.Step? {
        let result: AffonsoSendResult
        do { result = try await request() } catch { return nil }
        metrics.recordResponse(
            status: result.outcome.status, duration: result.requestDuration, rateLimitWait: result.rateLimitWait)
        let (now, date) = (ContinuousClock.now, Date())
        let (step, actions, taken) = state.withLock { core in
            var (step, actions) = core.sent(progress, result.outcome, now: now, date: date)
            let next = Self.takeNext(&core, after: step, &actions, now: now, date: date)
            return (step, actions, next)
        }
        next = taken
        perform(actions)
        return step
    }

    /// Writes a job's record (a retry tier, the dead-letter topic, the conversions topic) and hands the broker's
    /// answer to the core.
    /// - Returns: the next step; nil when the worker was cancelled first.
    private func write(
        _ progress: DeliveryCore.JobProgress,
        taking next: inout TakenJob?,
        _ produce: () async throws -> KafkaProducer.DeliveryReport
    ) async -> DeliveryCore.Step? {
        var failure: KafkaError?
        do {
            _ = try await produce()
        } catch {
            failure = (error as? KafkaError) ?? KafkaError(code: .cancelled, message: "\(error)")
        }
        if Task.isCancelled { return nil }
        let (now, date) = (ContinuousClock.now, Date())
        let (step, actions, taken) = state.withLock { core in
            var (step, actions) = core.produced(progress, error: failure, now: now)
            let next = Self.takeNext(&core, after: step, &actions, now: now, date: date)
            return (step, actions, next)
        }
        next = taken
        perform(actions)
        return step
    }

    private func abandon(_ progress: DeliveryCore.JobProgress) -> TakenJob? {
        perform(state.withLock { $0.abandoned(progress, now: .now) })
        return nil
    }

    // MARK: - Notices

    /// Writes the log line and counts the metric of one thing the core decided.
    func report(_ notice: DeliveryCore.Notice) {
        switch notice {
        case .delivered(let event, let origin):
            metrics.recordDelivered(eventType: event.eventType, rule: event.rule)
            logger.debug(
                "event delivered",
                metadata: [
                    "rule": "\(event.rule)", "event_type": "\(event.eventType)",
                    "external_event_id": "\(event.externalEventID)", "topic": "\(origin.topic)",
                    "partition": "\(origin.partition)", "offset": "\(origin.offset)",
                ])
        case .failed(let errorClass):
            metrics.recordFailure(errorClass)
        case .routed(let write, let rule, let externalEventID):
            let written = write.envelope
            var metadata: Logger.Metadata = [
                "rule": "\(rule)", "class": "\(written.errorClass)", "topic": "\(written.original.topic)",
                "partition": "\(written.original.partition)", "offset": "\(written.original.offset)",
                "attempt": "\(written.attempt)",
            ]
            if let externalEventID { metadata["external_event_id"] = "\(externalEventID)" }
            if let tier = write.tier {
                metrics.recordRetried(tier: write.topic)
                logger.info(
                    "event sent to retry tier \(tier + 1) (\(write.topic)): \(written.errorMessage)",
                    metadata: metadata)
            } else {
                metrics.recordDeadLettered(written.errorClass)
                logger.warning("event dead-lettered to \(write.topic): \(written.errorMessage)", metadata: metadata)
            }
        case .valueDropped(let write, let error, let bytes):
            logger.error(
                "a record is too large for \(write.topic) (\(error.message)); dead-lettering it without its value",
                metadata: [
                    "topic": "\(write.envelope.original.topic)",
                    "partition": "\(write.envelope.original.partition)",
                    "offset": "\(write.envelope.original.offset)", "bytes": "\(bytes)",
                ])
        case .produceFailed(let topic, let error, let source):
            logger.error(
                "could not write a record to \(topic): \(error); retrying (its offset is not committed meanwhile)",
                metadata: [
                    "topic": "\(source.topic)", "partition": "\(source.partition)", "offset": "\(source.offset)",
                ]
            )
        case .producerFailedFatally(let error):
            logger.critical(
                "the Kafka producer failed fatally (\(error.message)); retry and dead-letter records cannot be written. /livez and /readyz fail so that the pod is restarted; nothing is committed past them meanwhile"
            )
        case .remembered(let memory):
            metrics.recordConversionRemembered()
            logger.debug(
                "conversion remembered for refunds",
                metadata: ["external_event_id": "\(memory.externalEventID)", "conversion_id": "\(memory.conversionID)"])
        case .conversionWithoutID(let event):
            logger.warning(
                "Affonso acknowledged a conversion without its id (data.id); a refund of it cannot be sent and will be dead-lettered",
                metadata: ["rule": "\(event.rule)", "external_event_id": "\(event.externalEventID)"])
        case .gates(let changes):
            report(changes)
        case .retryHeld(let partition, let delay):
            logger.debug(
                "retry record not due yet; pausing its partition",
                metadata: ["topic": "\(partition.topic)", "partition": "\(partition.partition)", "delay": "\(delay)"]
            )
        }
    }

    private func report(_ changes: DeliveryCore.GateChanges) {
        if changes.outageResumed {
            logger.notice("the Affonso API answers again; resuming fetching")
        }
        if changes.credentialsResumed {
            logger.notice("Affonso accepts the API key again; resuming fetching")
            metrics.setCredentialsFault(false)
        }
        if changes.outageStopped {
            logger.error(
                "the Affonso API is failing most requests; stopped fetching, holding in-flight events and probing"
            )
        }
        if let status = changes.credentialsFaulted {
            let reason =
                status == 403
                ? "the API key lacks the write:commissions permission (403)"
                : "the API key is missing, wrong or revoked (\(status))"
            logger.error(
                "Affonso refused the API key: \(reason). Delivery stopped, nothing is committed or dead-lettered; fix the key (api_key_file is re-read), probing every \(configuration.credentialsProbeInterval)"
            )
            metrics.setCredentialsFault(true)
        }
    }
}
