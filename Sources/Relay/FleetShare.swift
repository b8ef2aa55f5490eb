import AffonsoAPI
import KafkaClient
import Logging
import Synchronization

// MARK: - FleetShare

/// Tells the Affonso client's rate limiter which part of the consumer group's source partitions this member owns,
/// so that the group's members together pace to the plan (`affonso.rate_limit.scope: fleet`; see
/// ``FleetRateShare`` for how the share is refined from the API's own counter).
///
/// The delivery pipeline calls ``rebalanced(_:)`` on each rebalance event. Assignments apply at once; a revocation
/// applies at the next assignment, or after `revocationGrace` when none follows (cooperative rebalancing), so
/// that the revoked partitions' in-flight requests drain at the old pace. When a revocation leaves the member
/// without partitions, the limiter stops letting requests wait for a slot until the next assignment
/// (``RateLimiter/refuseWaiting(_:)``): those records are not sent, and their partitions' next owner reads them
/// again, so the rebalance or shutdown does not wait for them.
/// ``refreshTopics(bootstrapServers:properties:)`` learns how many partitions the source topics have. It also keeps `affonso_relay_rate_limit_share` and logs the
/// fleet's view at debug level at each change.
public final class FleetShare: Sendable {
    private let sourceTopics: [String]
    private let relayTopics: Set<String>
    private let limiter: RateLimiter<ContinuousClock>
    private let revocationGrace: Duration
    private let logger: Logger
    private let state = Mutex(State())

    struct State {
        /// Every partition this member owns, of every topic.
        var owned: Set<PartitionID> = []
        /// Partition count per source topic, from the cluster's metadata.
        var partitionCounts: [String: Int] = [:]
        /// Increases with every rebalance event; a pending revocation applies only if nothing came after it.
        var generation = 0
        /// The share last set: (owned, total) source partitions.
        var applied: (owned: Int, total: Int)?
    }

    /// - Parameters:
    ///   - sourceTopics: the consumer's topics: names and `^`-regular expressions (the retry tiers excluded).
    ///   - relayTopics: the relay's own topics (retry tiers, dead letters), never counted as source topics.
    ///   - limiter: the Affonso client's limiter; nothing is set on a `pod`-scoped one.
    ///   - revocationGrace: how long a revocation waits for the assignment that normally follows it.
    ///   - metrics: receives `affonso_relay_rate_limit_share`.
    ///   - logger: receives one debug line with the fleet's view at each change of the share.
    public init(
        sourceTopics: [String],
        relayTopics: [String],
        limiter: RateLimiter<ContinuousClock>,
        revocationGrace: Duration = .seconds(10),
        metrics: RelayMetrics,
        logger: Logger
    ) {
        self.sourceTopics = sourceTopics
        self.relayTopics = Set(relayTopics)
        self.limiter = limiter
        self.revocationGrace = revocationGrace
        self.logger = logger
        metrics.setRateLimitShare(limiter.share)
        limiter.onShareChange { [weak self, logger] view in
            metrics.setRateLimitShare(view.share)
            let partitions = self?.state.withLock { $0.applied }
            logger.debug(
                "rate-limit share changed",
                metadata: [
                    "share": "\(view.share)",
                    "base_share": "\(view.baseShare.map { "\($0)" } ?? "unknown")",
                    "fleet_rate": "\(view.fleetRate.map { "\($0)" } ?? "unknown")",
                    "own_rate": "\(view.ownRate.map { "\($0)" } ?? "unknown")",
                    "source_partitions": "\(partitions.map { "\($0.owned)/\($0.total)" } ?? "unknown")",
                    "reason": "\(view.reason)",
                ]
            )
        }
    }

    // MARK: - Assignment

    /// Sets this member's share: `sourcePartitions` of `total` source partitions (`total` 0: unknown, which
    /// applies the conservative fallback share).
    public func assigned(sourcePartitions: Int, ofTotal total: Int) {
        guard limiter.isFleetScoped else { return }
        state.withLock { $0.applied = (sourcePartitions, total) }
        limiter.setShare(total > 0 ? Double(min(sourcePartitions, total)) / Double(total) : nil)
    }

    /// Follows one rebalance event (the one call the delivery pipeline makes per event).
    public func rebalanced(_ event: KafkaConsumer.RebalanceEvent) {
        guard limiter.isFleetScoped else { return }
        switch event {
        case .assigned(let partitions):
            state.withLock { state in
                state.owned.formUnion(partitions)
                state.generation += 1
            }
            limiter.refuseWaiting(false)
            apply()
        case .revoked(let partitions), .lost(let partitions):
            let (generation, ownsNothing) = state.withLock { state in
                state.owned.subtract(partitions)
                state.generation += 1
                return (state.generation, state.owned.isEmpty)
            }
            // Every partition is revoked (an eager rebalance, the shutdown's leave, lost): what waits for the rate
            // limit is left to the partitions' next owner, which paces it to its own share, instead of draining at
            // this member's old share while the group waits for this member to rejoin or leave.
            if ownsNothing { limiter.refuseWaiting(true) }
            let grace = revocationGrace
            Task { [weak self] in
                try? await Task.sleep(for: grace)
                guard let self, self.state.withLock({ $0.generation == generation }) else { return }
                self.apply()
            }
        }
    }

    /// Learns the source topics' partition counts from the cluster (the service calls it at start). A cluster that
    /// cannot be read leaves the counts as they were; an owned source topic they do not name makes the total
    /// unknown (the fallback share).
    public func refreshTopics(bootstrapServers: [String], properties: [String: String]) async {
        do {
            let admin = try KafkaAdmin(
                bootstrapServers: bootstrapServers, properties: properties, timeout: .seconds(10), logger: logger)
            let cluster: KafkaAdmin.ClusterDescription
            do {
                cluster = try await admin.describeCluster()
            } catch {
                await admin.close()
                throw error
            }
            await admin.close()
            updateTopics(cluster.topics)
        } catch {
            let message =
                "could not read the source topics' partition counts: \(error); the rate limiter paces to a "
                + "conservative share of the plan until it can"
            logger.warning("\(message)")
        }
    }

    /// Sets the source topics' partition counts from `topics` (every topic of the cluster; others are ignored).
    func updateTopics(_ topics: [KafkaAdmin.TopicDescription]) {
        let counts = Dictionary(
            topics.filter { isSourceTopic($0.name) }.map { ($0.name, $0.partitionCount) },
            uniquingKeysWith: { first, _ in first })
        state.withLock { $0.partitionCounts = counts }
        apply()
    }

    /// Whether `topic` is one of the source topics: named, or matched by a `^` pattern, and not a relay topic.
    func isSourceTopic(_ topic: String) -> Bool {
        guard !relayTopics.contains(topic) else { return false }
        return sourceTopics.contains { source in
            guard source.hasPrefix("^") else { return source == topic }
            guard let pattern = try? Regex(source) else { return false }
            return topic.contains(pattern)
        }
    }

    /// The owned and total source partitions as now known.
    func counts() -> (owned: Int, total: Int, unknownTopics: Bool) {
        let (owned, partitionCounts) = state.withLock { ($0.owned, $0.partitionCounts) }
        let ownedSource = owned.filter { isSourceTopic($0.topic) }
        let unknown = ownedSource.contains { partitionCounts[$0.topic] == nil }
        return (ownedSource.count, partitionCounts.values.reduce(0, +), unknown)
    }

    /// Sets the share from the counts when they changed since the last time, once an assignment was seen.
    private func apply() {
        let (owned, total, unknownTopics) = counts()
        // An owned source topic missing from the metadata (created since): the total is unknown.
        let next = (owned: owned, total: unknownTopics ? 0 : total)
        let changed = state.withLock { state in
            guard state.generation > 0 else { return false }  // no assignment yet: the fallback share stays
            guard let applied = state.applied else { return true }
            return applied != next
        }
        if changed { assigned(sourcePartitions: next.owned, ofTotal: next.total) }
    }
}
