import KafkaClient

// MARK: - Rebalance

extension DeliveryCore {
    /// Partitions were assigned: each starts unpaused in the consumer, so fetching is reconciled.
    mutating func assigned(_ partitions: [PartitionID]) -> Actions {
        for partition in partitions {
            tracker.assign(partition, position: nil)
            revoking.remove(partition)
            paused.remove(partition)
        }
        return Actions(reconcilePauses: true)
    }

    /// A revoke began: revoked partitions stop dispatching; their queued jobs, jobs no worker took yet and held
    /// retry records are dropped, uncommitted (their next owner reads them again).
    mutating func revokeBegan(_ partitions: [PartitionID]) -> Actions {
        var actions = Actions()
        let revoked = Set(partitions)
        for partition in partitions {
            revoking.insert(partition)
            held[partition] = nil
            releaseTimes[partition] = nil
            let (dropped, action) = dispatcher.revoke(partition)
            for job in dropped { remaining[job.ticket] = nil }
            merge(action, &actions)
        }
        // Workers woken for these find nothing to take and wait again.
        for job in started.removeAll(where: { revoked.contains($0.partition) }) {
            finishRunning(job)
            remaining[job.element.ticket] = nil
            merge(dispatcher.finish(job), &actions)
        }
        return sealed(actions)
    }

    /// Whether the revoked partitions still have jobs in flight (the driver waits for them until the drain
    /// deadline).
    func isDraining(_ partitions: [PartitionID]) -> Bool {
        inFlightCount(of: partitions) > 0
    }

    func inFlightCount(of partitions: [PartitionID]) -> Int {
        partitions.reduce(0) { $0 + (running[$1] ?? 0) }
    }

    /// The drain ended (or its deadline passed): the partitions are forgotten.
    /// - Returns: the final offsets to store for them; none when they were lost (another member owns them).
    mutating func revokeEnded(_ partitions: [PartitionID], lost: Bool = false) -> [(PartitionID, Int64)] {
        var offsets: [(PartitionID, Int64)] = []
        for partition in partitions {
            if let offset = tracker.revoke(partition)?.committableOffset, !lost {
                offsets.append((partition, offset))
            }
            remaining = remaining.filter { $0.key.coordinates.partitionID != partition }
            revoking.remove(partition)
            paused.remove(partition)
            held[partition] = nil
            releaseTimes[partition] = nil
            releasing.remove(partition)
        }
        return offsets
    }

    /// Partitions were lost (session timeout, fencing): dropped at once, nothing stored for them.
    mutating func lost(_ partitions: [PartitionID]) -> Actions {
        let actions = revokeBegan(partitions)
        _ = revokeEnded(partitions, lost: true)
        return actions
    }

    // MARK: Pauses

    /// A partition is fetched unless the API is down or refuses the key (while a job is there to probe it), a
    /// drain started, or it is a retry partition waiting for a record's `not_before`. (A full dispatcher stops the
    /// consumer task from taking records instead: ``isFull``.)
    func shouldPause(_ partition: PartitionID) -> Bool {
        (!isDeliveryOpen && !needsProbeJob) || isDraining || held[partition] != nil
    }

    /// The partitions to pause and resume so that what the consumer has paused (`actual`, read from it)
    /// matches ``shouldPause(_:)``. Reconciling with the consumer's own set, not with a copy kept here, means
    /// the two can never disagree: after a reassignment (every partition starts unpaused) or a lost
    /// partition, the next call puts fetching right.
    mutating func pauseChanges(
        actual: Set<PartitionID>
    ) -> (pause: [PartitionID], resume: [PartitionID], pausedCount: Int) {
        var pause: [PartitionID] = []
        var resume: [PartitionID] = []
        paused = []
        for partition in tracker.assignedPartitions where !revoking.contains(partition) {
            let should = shouldPause(partition)
            if should { paused.insert(partition) }
            if should, !actual.contains(partition) {
                pause.append(partition)
            } else if !should, actual.contains(partition) {
                resume.append(partition)
            }
        }
        return (pause, resume, paused.count)
    }
}
