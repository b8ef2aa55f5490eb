import KafkaClient
import Synchronization
import Testing

/// Consumer-group behaviour against the stack's Tansu broker.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .timeLimit(.minutes(3)))
struct KafkaConsumerGroupTests {
    @Test func twoConsumersSplitThePartitions() async throws {
        let topic = uniqueName("split")
        let group = uniqueName("split-group")
        try await createKafkaTopic(topic, partitions: 4)
        let first = try KafkaConsumer(
            configuration: kafkaConsumerConfiguration(topic: topic, group: group), logger: kafkaTestLogger)
        let second = try KafkaConsumer(
            configuration: kafkaConsumerConfiguration(topic: topic, group: group), logger: kafkaTestLogger)
        _ = KafkaCollector(first)
        _ = KafkaCollector(second)
        let split = await kafkaEventually(timeout: .seconds(60)) {
            let a = first.assignment
            let b = second.assignment
            return !a.isEmpty && !b.isEmpty && a.isDisjoint(with: b) && a.union(b) == partitions(topic, 4)
        }
        #expect(split, "assignments \(first.assignment) and \(second.assignment) do not split \(topic)'s 4 partitions")
        await first.close()
        await second.close()
    }

    @Test func membersJoiningAndLeavingLoseNothingAndCommitNothingUnprocessed() async throws {
        let topic = uniqueName("churn")
        let group = uniqueName("churn-group")
        let total = 600
        try await createKafkaTopic(topic, partitions: 6)
        let processed = Mutex<Set<KafkaTopicPartition.Offset>>([])
        let storeFailures = Mutex(0)

        func member() throws -> (KafkaConsumer, KafkaCollector) {
            let consumer = try KafkaConsumer(
                configuration: kafkaConsumerConfiguration(topic: topic, group: group),
                logger: kafkaTestLogger
            )
            let collector = KafkaCollector(consumer) { message in
                try? await Task.sleep(for: .milliseconds(2))
                processed.withLock { _ = $0.insert(.init(message.topicPartition, message.offset)) }
                do {
                    try consumer.storeOffset(
                        topic: message.topic, partition: message.partition, offset: message.offset + 1)
                } catch {
                    storeFailures.withLock { $0 += 1 }
                }
            }
            return (consumer, collector)
        }

        let producing = Task { try await produceKafkaRecords(topic: topic, range: 0..<total, pause: .milliseconds(10)) }
        let (first, firstCollector) = try member()
        let (second, secondCollector) = try member()
        #expect(await kafkaEventually(timeout: .seconds(60)) { processed.withLock { $0.count } >= 100 })
        let (third, thirdCollector) = try member()
        #expect(await kafkaEventually(timeout: .seconds(60)) { !third.assignment.isEmpty })
        await first.close()

        // Right after a member left, every committed offset covers only processed records.
        let all = partitions(topic, 6)
        let committedAfterLeave = try await second.committedOffsets(for: all.sorted())
        let processedNow = processed.withLock { $0 }
        for (partition, offset) in committedAfterLeave {
            for earlier in 0..<offset {
                #expect(
                    processedNow.contains(.init(partition, earlier)),
                    "\(partition) committed \(offset) before processing \(earlier)")
            }
        }

        try await producing.value
        let everything = await kafkaEventually(timeout: .seconds(90)) {
            let values = (firstCollector.messages + secondCollector.messages + thirdCollector.messages)
                .compactMap { Int(String(decoding: $0.value, as: UTF8.self)) }
            return Set(values) == Set(0..<total)
        }
        #expect(everything, "some records were never delivered to any member")
        // Everything processed is committed by the background auto-commit (an explicit commit may meet a
        // rebalance still settling and fail with a retriable ILLEGAL_GENERATION).
        var highs: [KafkaTopicPartition: Int64] = [:]
        for partition in all {
            highs[partition] = try await second.watermarks(topic: topic, partition: partition.partition).high
        }
        let logEnds = highs
        let fullyCommitted = await kafkaEventually(timeout: .seconds(30)) {
            (try? await second.committedOffsets(for: all.sorted())) == logEnds
        }
        let committed = try await second.committedOffsets(for: all.sorted())
        #expect(fullyCommitted, "committed \(committed), log ends \(highs)")
        #expect(highs.values.reduce(0, +) == Int64(total))
        await second.close()
        await third.close()
    }

    @Test func restartedConsumerResumesAtItsCommittedOffset() async throws {
        let topic = uniqueName("restart")
        let group = uniqueName("restart-group")
        try await createKafkaTopic(topic, partitions: 1)
        try await produceKafkaRecords(topic: topic, range: 0..<10)

        let first = try KafkaConsumer(
            configuration: kafkaConsumerConfiguration(topic: topic, group: group), logger: kafkaTestLogger)
        let firstCollector = KafkaCollector(first)
        #expect(await firstCollector.waitFor(count: 10))
        try first.storeOffset(topic: topic, partition: 0, offset: 6)
        await first.close()

        let second = try KafkaConsumer(
            configuration: kafkaConsumerConfiguration(topic: topic, group: group), logger: kafkaTestLogger)
        let secondCollector = KafkaCollector(second)
        #expect(await secondCollector.waitFor(count: 4))
        try await Task.sleep(for: .milliseconds(500))
        #expect(secondCollector.messages.map(\.offset) == [6, 7, 8, 9])
        await second.close()
    }

    @Test func revokeHandlerRunsBeforeUnassignmentAndItsOffsetsAreCommitted() async throws {
        let topic = uniqueName("revoke")
        let group = uniqueName("revoke-group")
        try await createKafkaTopic(topic, partitions: 2)
        try await produceKafkaRecords(topic: topic, range: 0..<40)

        let ownedAtRevoke = Mutex<[Set<KafkaTopicPartition>]>([])
        let revokedPartitions = Mutex<[KafkaTopicPartition]>([])
        let storeErrors = Mutex<[String]>([])
        let consumerBox = Mutex<KafkaConsumer?>(nil)
        let first = try KafkaConsumer(
            configuration: kafkaConsumerConfiguration(topic: topic, group: group),
            logger: kafkaTestLogger
        ) { event in
            guard case .revoked(let partitions) = event, let consumer = consumerBox.withLock({ $0 }) else { return }
            ownedAtRevoke.withLock { $0.append(consumer.assignment) }
            revokedPartitions.withLock { $0.append(contentsOf: partitions) }
            for partition in partitions {
                do {
                    try consumer.storeOffset(topic: partition.topic, partition: partition.partition, offset: 5)
                } catch {
                    storeErrors.withLock { $0.append("\(error)") }
                }
            }
        }
        consumerBox.withLock { $0 = first }
        let firstCollector = KafkaCollector(first)
        #expect(await firstCollector.waitFor(count: 40))

        let second = try KafkaConsumer(
            configuration: kafkaConsumerConfiguration(topic: topic, group: group), logger: kafkaTestLogger)
        let secondCollector = KafkaCollector(second)
        #expect(await kafkaEventually(timeout: .seconds(60)) { !secondCollector.messages.isEmpty })
        let moved = try #require(revokedPartitions.withLock { $0.first })
        #expect(
            ownedAtRevoke.withLock { $0.first?.contains(moved) } == true,
            "the handler ran after \(moved) was unassigned")
        #expect(storeErrors.withLock { $0 }.isEmpty)
        #expect(second.assignment.contains(moved))
        let committed = try await second.committedOffsets(for: [moved])
        #expect(committed[moved] == 5)
        let firstOnMoved = secondCollector.messages.first { $0.topicPartition == moved }
        #expect(firstOnMoved?.offset == 5, "the new owner did not resume at the offset stored in the revoke handler")
        await second.close()
        await first.close()
    }

    @Test func closeLeavesTheGroupSoAnotherMemberGetsThePartitionsAtOnce() async throws {
        let topic = uniqueName("leave")
        let group = uniqueName("leave-group")
        try await createKafkaTopic(topic, partitions: 2)
        var configuration = kafkaConsumerConfiguration(topic: topic, group: group)
        // A long session: if close did not leave the group, the partitions could move only after it expired.
        // (Tansu itself takes about half the session timeout to finish any rebalance, with any client.)
        configuration.sessionTimeout = .seconds(30)
        configuration.properties["heartbeat.interval.ms"] = "1000"
        let first = try KafkaConsumer(configuration: configuration, logger: kafkaTestLogger)
        let second = try KafkaConsumer(configuration: configuration, logger: kafkaTestLogger)
        _ = KafkaCollector(first)
        _ = KafkaCollector(second)
        #expect(
            await kafkaEventually(timeout: .seconds(60)) { first.assignment.count == 1 && second.assignment.count == 1 }
        )
        await first.close()
        let clock = ContinuousClock()
        let start = clock.now
        #expect(await kafkaEventually(timeout: .seconds(60)) { second.assignment == partitions(topic, 2) })
        #expect(clock.now - start < .seconds(28), "the remaining member waited for the session timeout")
        await second.close()
    }
}

extension KafkaTopicPartition {
    /// A record position, for bookkeeping in tests.
    struct Offset: Hashable, Sendable {
        var partition: KafkaTopicPartition
        var offset: Int64
        init(_ partition: KafkaTopicPartition, _ offset: Int64) {
            self.partition = partition
            self.offset = offset
        }
    }
}
