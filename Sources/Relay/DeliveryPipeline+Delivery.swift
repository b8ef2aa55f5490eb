import AffonsoAPI
import Foundation
import KafkaClient
import Logging
import Rules

// MARK: - Delivery

extension DeliveryPipeline {
    /// Runs one job to its end and hands it back to the dispatcher.
    func deliver(_ job: KeyedDispatcher<EventJob>.Job) async {
        let event = job.element
        let finished: Bool
        switch event.work {
        case .deliver(let mapped):
            finished = await deliver(mapped, of: event)
        case .deadLetter(let errorClass, let message):
            metrics.recordFailure(errorClass)
            let decision = RetryPolicy.Decision.deadLetter(
                topic: configuration.retry.deadLetterTopic,
                attempt: RetryPolicy.nextAttempt(after: event.envelope?.attempt ?? 0)
            )
            finished = await route(event, decision, errorClass, message, status: nil)
        }
        perform(state.withLock { finished ? $0.finish(job) : $0.abandon(job) })
    }

    /// Sends an event until it is acknowledged or routed to a retry or dead-letter topic.
    /// - Returns: false when cancelled first (the record stays incomplete and is read again by the next owner).
    private func deliver(_ mapped: MappedEvent, of event: EventJob) async -> Bool {
        var inProcessAttempt = 1
        while let turn = await waitForTurn() {
            let result: AffonsoSendResult
            do {
                result = try await client.sendMeasured(body: mapped.body, externalEventID: mapped.externalEventID)
            } catch {
                note(.abandoned, turn)
                return false
            }
            let outcome = result.outcome
            metrics.recordResponse(
                status: outcome.status, duration: result.requestDuration, rateLimitWait: result.rateLimitWait)
            let failure: AffonsoError
            switch outcome {
            case .delivered:
                note(.answered, turn)
                metrics.recordDelivered(eventType: mapped.eventType, rule: mapped.rule)
                let origin = event.envelope?.original ?? event.source
                logger.debug(
                    "event delivered",
                    metadata: [
                        "rule": "\(mapped.rule)", "event_type": "\(mapped.eventType)",
                        "external_event_id": "\(mapped.externalEventID)", "topic": "\(origin.topic)",
                        "partition": "\(origin.partition)", "offset": "\(origin.offset)",
                    ])
                return true
            case .failed(let error):
                failure = error
            }
            if failure.errorClass == .credentials || failure.code == .apiKeyUnavailable {
                note(.refusedKey(status: failure.status ?? 401), turn)
                continue
            }
            if failure.errorClass == .rateLimited {
                note(.answered, turn)
                continue
            }
            let errorClass = ErrorClass(rawValue: failure.errorClass.rawValue) ?? .clientError
            metrics.recordFailure(errorClass)
            note(errorClass.isTransient ? .unanswered : .answered, turn)
            let decision = policy.decide(
                .failed(errorClass),
                previousAttempts: event.envelope?.attempt ?? 0,
                inProcessAttempt: inProcessAttempt,
                apiIsDown: state.withLock { $0.outage.isDown },
                now: Date()
            )
            switch decision {
            case .retryInProcess(let pause):
                inProcessAttempt += 1
                do { try await Task.sleep(for: pause) } catch { return false }
            case .waitForRecovery, .waitForRateLimit, .waitForCredentials:
                continue
            case .retryTier, .deadLetter:
                return await route(
                    event, decision, errorClass, failure.message, status: failure.status,
                    externalEventID: mapped.externalEventID)
            }
        }
        return false
    }

    // MARK: - Faults

    /// Why a job may send now.
    enum Turn {
        case regular
        case outageProbe
        case credentialsProbe
    }

    /// Waits until requests may be sent, or until this job is the one to probe a fault.
    /// - Returns: `nil` when cancelled.
    func waitForTurn() async -> Turn? {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (turn, wait) = state.withLock { $0.turn(now: now) }
            if let turn { return turn }
            do {
                try await Task.sleep(for: min(max(wait, .milliseconds(10)), .seconds(1)))
            } catch {
                return nil
            }
        }
        return nil
    }

    /// Feeds what a request learnt to the gates, and logs and applies what changed.
    private func note(_ answer: State.Answer, _ turn: Turn) {
        let changes = state.withLock { $0.record(answer, turn: turn, now: .now) }
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
        if changes.pausesChanged { applyPauses() }
    }

    // MARK: - Retry and dead-letter topics

    /// Writes the record to a retry tier or the dead-letter topic with the relay headers, waiting for the broker's
    /// acknowledgement; retries the write until it succeeds or the task is cancelled.
    /// - Returns: whether the record was durably written.
    func route(
        _ event: EventJob,
        _ decision: RetryPolicy.Decision,
        _ errorClass: ErrorClass,
        _ message: String,
        status: Int?,
        externalEventID: String? = nil
    ) async -> Bool {
        let now = Date()
        let topic: String
        let attempt: Int
        let notBefore: Date
        let tier: Int?
        switch decision {
        case .retryTier(let tierTopic, let tierIndex, let tierAttempt, let due):
            (topic, attempt, notBefore, tier) = (tierTopic, tierAttempt, due, tierIndex)
        case .deadLetter(let deadLetterTopic, let deadAttempt):
            (topic, attempt, notBefore, tier) = (deadLetterTopic, deadAttempt, now, nil)
        default:
            return false
        }
        let envelope = RetryEnvelope.failure(
            after: event.envelope,
            record: event.source,
            timestamp: event.message.timestampMilliseconds.map(WallClock.date(milliseconds:)),
            rule: event.rule,
            errorClass: errorClass,
            message: message,
            status: status,
            attempt: attempt,
            notBefore: notBefore,
            now: now,
            knownSecrets: configuration.knownSecrets
        )
        var write = Write(
            topic: topic, tier: tier, envelope: envelope, value: event.message.value,
            headers: envelope.headers(keeping: event.message.headers))
        var pause = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                _ = try await producer.send(
                    topic: write.topic, key: event.message.key, value: write.value, headers: write.headers)
                break
            } catch {
                if error.code == .messageTooLarge,
                    let smaller = write.withoutValue(
                        deadLetterTopic: configuration.retry.deadLetterTopic, error: error,
                        knownSecrets: configuration.knownSecrets)
                {
                    // Retrying cannot help: the record never fits. Its coordinates and headers still go to the
                    // dead-letter topic, so nothing vanishes and its partition moves on.
                    logger.error(
                        "a record is too large for \(write.topic) (\(error.message)); dead-lettering it without its value",
                        metadata: [
                            "topic": "\(write.envelope.original.topic)",
                            "partition": "\(write.envelope.original.partition)",
                            "offset": "\(write.envelope.original.offset)", "bytes": "\(event.message.value.count)",
                        ])
                    write = smaller
                    continue
                }
                if error.isFatal, state.withLock({ $0.recordProducerFailure() }) {
                    logger.critical(
                        "the Kafka producer failed fatally (\(error.message)); retry and dead-letter records cannot be written. /livez and /readyz fail so that the pod is restarted; nothing is committed past them meanwhile"
                    )
                }
                logger.error(
                    "could not write a record to \(write.topic): \(error); retrying (its offset is not committed meanwhile)",
                    metadata: [
                        "topic": "\(event.source.topic)", "partition": "\(event.source.partition)",
                        "offset": "\(event.source.offset)",
                    ]
                )
                do { try await Task.sleep(for: pause) } catch { return false }
                pause = min(pause * 2, .seconds(10))
            }
        }
        if Task.isCancelled { return false }
        let written = write.envelope
        var metadata: Logger.Metadata = [
            "rule": "\(event.rule)", "class": "\(written.errorClass)", "topic": "\(written.original.topic)",
            "partition": "\(written.original.partition)", "offset": "\(written.original.offset)",
            "attempt": "\(written.attempt)",
        ]
        if let externalEventID { metadata["external_event_id"] = "\(externalEventID)" }
        if let tier = write.tier {
            metrics.recordRetried(tier: write.topic)
            logger.info(
                "event sent to retry tier \(tier + 1) (\(write.topic)): \(written.errorMessage)", metadata: metadata)
        } else {
            metrics.recordDeadLettered(written.errorClass)
            logger.warning("event dead-lettered to \(write.topic): \(written.errorMessage)", metadata: metadata)
        }
        return true
    }
}

// MARK: - Write

/// A retry-tier or dead-letter record about to be written.
struct Write {
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
