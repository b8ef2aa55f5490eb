import KafkaClient

// MARK: - Rebalance

extension DeliveryPipeline {
    /// Reacts to assignment changes: revoked partitions stop dispatching, drain their in-flight work up to the
    /// drain deadline and store their final offsets before the consumer commits and unassigns them.
    func rebalance(_ event: KafkaConsumer.RebalanceEvent) async {
        switch event {
        case .assigned(let ids):
            logger.info("partitions assigned", metadata: ["partitions": "\(ids.map(\.description))"])
            perform(state.withLock { $0.assigned(ids) })
        case .revoked(let ids):
            perform(state.withLock { $0.revokeBegan(ids) })
            // A revoke drains up to the drain timeout; the one at shutdown leaves the end of the grace period for
            // committing, flushing and closing.
            var deadline = ContinuousClock.now + configuration.drainTimeout
            if let shutdown = state.withLock({ $0.shutdownDeadline }) {
                deadline = min(deadline, shutdown - shutdownReserve)
            }
            while state.withLock({ $0.isDraining(ids) }), ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let (abandoned, offsets) = state.withLock { ($0.inFlightCount(of: ids), $0.revokeEnded(ids)) }
            if let consumer = consumer.withLock({ $0 }) {
                for (partition, offset) in offsets {
                    try? consumer.storeOffset(topic: partition.topic, partition: partition.partition, offset: offset)
                    metrics.recordCommittable(partition: partition, offset: offset)
                }
            }
            forgetLag(ids)
            logger.info(
                "partitions revoked",
                metadata: [
                    "partitions": "\(ids.map(\.description))",
                    "final_offsets": "\(offsets.map { "\($0.0)=\($0.1)" })",
                    "abandoned_in_flight": "\(abandoned)",
                ]
            )
        case .lost(let ids):
            perform(state.withLock { $0.lost(ids) })
            forgetLag(ids)
            logger.warning(
                "partitions lost (session timeout or fenced); their uncommitted records are read again by the next owner",
                metadata: ["partitions": "\(ids.map(\.description))"]
            )
        }
    }

    /// A partition this member no longer owns reports no lag here (its new owner reports it), so that summing
    /// `consumer_lag` over the group's members counts each partition once.
    private func forgetLag(_ partitions: [PartitionID]) {
        for partition in partitions { metrics.recordLag(partition: partition, lag: 0) }
    }
}
