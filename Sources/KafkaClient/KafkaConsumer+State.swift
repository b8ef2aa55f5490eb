extension KafkaConsumer {
    /// Everything the poll thread and the application share, guarded by one `Mutex`.
    ///
    /// Pausing and resuming in librdkafka (`rd_kafka_pause_partitions`) only enqueues an operation and never
    /// blocks on the network, so the consumer applies it while holding the lock; that keeps librdkafka's paused
    /// set in the same order as the decisions taken here (two threads racing pause/resume could otherwise leave
    /// a partition paused forever).
    struct State {
        enum Lifecycle {
            case running
            case closing
            case closed
            case failed(KafkaError)
        }

        var lifecycle: Lifecycle = .running
        /// Messages ready for the application, oldest first.
        var buffer = MessageBuffer()
        /// Messages of partitions the application paused, set aside when the iterator reached them; put back in
        /// front of the buffer on resume.
        var held: [KafkaTopicPartition: [KafkaConsumerMessage]] = [:]
        /// The iterator waiting for a message, if any.
        var waiter: CheckedContinuation<KafkaConsumerMessage?, any Error>?
        /// Partitions this member owns (including those being revoked until they are unassigned).
        var assignment: Set<KafkaTopicPartition> = []
        /// Partitions being revoked: still owned (offsets may be stored) but no longer delivered.
        var revoking: Set<KafkaTopicPartition> = []
        /// Partitions the application paused; remembered across rebalances.
        var userPaused: Set<KafkaTopicPartition> = []
        /// Bumped whenever buffered messages of some partitions become stale (revoke, seek).
        var epoch = 0
        /// The epoch at which each partition last became stale.
        var staleSince: [KafkaTopicPartition: Int] = [:]
        /// True while the poll thread waits for the application to drain half of the full buffer.
        var isPollerWaitingForRoom = false
        /// True once librdkafka is destroyed; no call may use the handle any more.
        var isDestroyed = false
        /// Application calls currently using the handle.
        var activeCalls = 0

        /// How many messages the poll thread may take now. Once the buffer is full it gets no room until half of
        /// it is drained, so it takes big batches instead of one message per wake-up.
        mutating func room(capacity: Int) -> Int {
            if isPollerWaitingForRoom {
                // Also drained by pause (held back), seek and revoke (dropped), not only by the iterator.
                if buffer.count > capacity / 2 { return 0 }
                isPollerWaitingForRoom = false
            }
            let room = capacity - buffer.count
            if room <= 0 { isPollerWaitingForRoom = true }
            return max(room, 0)
        }

        /// Takes the first buffered message of a partition that is not paused; messages of paused partitions in
        /// front of it are set aside in ``held``, in order.
        mutating func popDeliverable() -> KafkaConsumerMessage? {
            while let message = buffer.popFirst() {
                guard !userPaused.isEmpty, userPaused.contains(message.topicPartition) else { return message }
                held[message.topicPartition, default: []].append(message)
            }
            return nil
        }

        /// Ends the application's pause of `partition`: its held messages go back in front of the buffer, since
        /// they are older than its messages still buffered. Returns false when it was not paused.
        mutating func unpause(_ partition: KafkaTopicPartition) -> Bool {
            guard userPaused.remove(partition) != nil else { return false }
            if let messages = held.removeValue(forKey: partition) { buffer.prepend(messages) }
            return true
        }

        /// Drops buffered and held messages of `partitions` and marks in-flight ones stale.
        mutating func invalidate(_ partitions: Set<KafkaTopicPartition>) {
            guard !partitions.isEmpty else { return }
            epoch += 1
            for partition in partitions {
                staleSince[partition] = epoch
                held[partition] = nil
            }
            buffer.removeAll { partitions.contains($0.topicPartition) }
        }
    }

    /// A FIFO of messages with O(1) amortised pop that moves messages out (no copy, no reference counting).
    struct MessageBuffer {
        private var storage: [KafkaConsumerMessage?] = []
        private var head = 0

        var count: Int { storage.count - head }
        var isEmpty: Bool { count == 0 }

        /// Takes the messages of `batch`, leaving it empty. When the buffer is empty the arrays are swapped, so the
        /// messages move without being copied.
        mutating func append(moving batch: inout [KafkaConsumerMessage?]) {
            if isEmpty {
                storage.removeAll(keepingCapacity: true)
                head = 0
                swap(&storage, &batch)
            } else {
                compactIfNeeded()
                storage.append(contentsOf: batch)
                batch.removeAll(keepingCapacity: true)
            }
        }

        /// Puts `messages` in front of the buffer, in their order.
        mutating func prepend(_ messages: [KafkaConsumerMessage]) {
            if head >= messages.count {
                head -= messages.count
                for (index, message) in messages.enumerated() { storage[head + index] = message }
            } else {
                // Not enough free slots in front: the rest of the storage shifts along.
                storage.replaceSubrange(0..<head, with: messages.lazy.map { $0 })
                head = 0
            }
        }

        mutating func popFirst() -> KafkaConsumerMessage? {
            guard head < storage.count else { return nil }
            let message = storage[head].take()
            head += 1
            return message
        }

        mutating func removeAll(where shouldRemove: (KafkaConsumerMessage) -> Bool) {
            compact()
            storage.removeAll { $0.map(shouldRemove) ?? true }
        }

        private mutating func compactIfNeeded() {
            if head >= 4096 && head * 2 >= storage.count { compact() }
        }

        private mutating func compact() {
            guard head > 0 else { return }
            storage.removeFirst(head)
            head = 0
        }
    }
}
