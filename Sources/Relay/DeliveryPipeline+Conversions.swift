import KafkaClient

// MARK: - Conversions

extension DeliveryPipeline {
    /// How long the conversions topic must stay quiet, once the reader is assigned, to count as read to its end.
    static let conversionsIdle = Duration.seconds(3)
    /// The longest refunds wait for the conversions topic to be read at start-up.
    static let conversionsCatchUpLimit = Duration.seconds(60)

    /// Reads the conversions topic from its start into the core's index, then follows it, so that this member
    /// can refund a conversion any member delivered. Until the topic was read to its end, a refund whose
    /// conversion is not known yet waits instead of going to a retry tier.
    func followConversions(_ reader: KafkaConsumer) async {
        let started = ContinuousClock.now
        let lastSeen = LastSeen(started)
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .milliseconds(250)) } catch { return }
                    let now = ContinuousClock.now
                    let quiet = !reader.assignment.isEmpty && now - lastSeen.instant >= Self.conversionsIdle
                    guard quiet || now - started >= Self.conversionsCatchUpLimit else { continue }
                    let known = self.state.withLock { core in
                        core.conversionsCaughtUp = true
                        return core.conversions.count
                    }
                    if quiet {
                        self.logger.info("conversions topic read: \(known) conversions known for refunds")
                    } else {
                        self.logger.warning(
                            "the conversions topic was not read to its end within \(Self.conversionsCatchUpLimit) (\(known) conversions known); refunds of conversions not read yet go to the retry tiers"
                        )
                    }
                    return
                }
            }
            do {
                while let batch = try await reader.nextBatch(maximum: 256) {
                    lastSeen.touch()
                    let memories = batch.compactMap { ConversionMemory(key: $0.key, value: $0.value) }
                    let known = state.withLock { core in
                        for memory in memories {
                            core.conversionRead(
                                externalEventID: memory.externalEventID, conversionID: memory.conversionID)
                        }
                        return core.conversions.count
                    }
                    metrics.setConversionsKnown(known)
                }
            } catch is CancellationError {
            } catch {
                logger.error(
                    "reading the conversions topic failed (\(error)); refunds of conversions not read go to the retry tiers"
                )
            }
            group.cancelAll()
        }
        await closeWithinShutdownGrace(reader)
    }
}
