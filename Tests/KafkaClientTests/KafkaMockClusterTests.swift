import KafkaClient
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Producer and consumer against librdkafka's in-process mock cluster.
@Suite(.timeLimit(.minutes(2)))
struct KafkaMockClusterTests {
    private func consumer(
        _ cluster: KafkaMockCluster,
        topic: String,
        group: String,
        configure: (inout KafkaConsumerConfiguration) -> Void = { _ in },
        rebalanceHandler: KafkaConsumer.RebalanceHandler? = nil
    ) throws -> KafkaConsumer {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServers,
            groupID: group,
            topics: [topic]
        )
        configure(&configuration)
        return try KafkaConsumer(configuration: configuration, logger: testLogger, rebalanceHandler: rebalanceHandler)
    }

    /// Waits for the `count` records produced as `0..<count` (then a little longer, to see repeats): each arrived
    /// exactly once, and every partition's records in offset order from its first.
    private func expectEveryRecordOnceInOrder(_ collector: Collector, count: Int) async throws {
        #expect(await collector.waitFor(count: count, timeout: .seconds(60)))
        try await Task.sleep(for: .milliseconds(500))
        let values = collector.messages.compactMap { text($0.value).flatMap(Int.init) }
        #expect(values.count == count, "records repeated or lost")
        #expect(Set(values) == Set(0..<count))
        for partition in Set(collector.messages.map(\.partition)) {
            let offsets = collector.messages.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == Array(0..<Int64(offsets.count)), "partition \(partition): records lost or reordered")
        }
    }

    private func produce(
        _ cluster: KafkaMockCluster,
        topic: String,
        values: Range<Int>
    ) async throws -> [KafkaProducer.DeliveryReport] {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: testLogger
        )
        var reports: [KafkaProducer.DeliveryReport] = []
        for value in values {
            reports.append(try await producer.send(topic: topic, key: bytes("k\(value)"), value: bytes("\(value)")))
        }
        await producer.close()
        return reports
    }

    @Test func recordsRoundTripWithKeyAndHeadersInOrder() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("orders", partitions: 3)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: testLogger
        )
        var sent: [String: (key: [UInt8]?, headers: [KafkaHeader], report: KafkaProducer.DeliveryReport)] = [:]
        for index in 0..<9 {
            let key = index.isMultiple(of: 3) ? nil : bytes("cus_\(index)")
            let headers = [
                KafkaHeader(key: "trace", string: "t\(index)"),
                KafkaHeader(key: "nothing", value: nil),
                KafkaHeader(key: "trace", string: "second"),
                KafkaHeader(key: "empty", value: []),
            ]
            let report = try await producer.send(
                topic: "orders", key: key, value: bytes("{\"n\":\(index)}"), headers: headers)
            #expect(report.topic == "orders")
            sent["{\"n\":\(index)}"] = (key, headers, report)
        }
        await producer.close()

        let consumer = try consumer(cluster, topic: "orders", group: "round-trip")
        let collector = Collector(consumer)
        #expect(await collector.waitFor(count: 9))
        await consumer.close()
        let received = collector.messages
        #expect(received.count == 9)
        for message in received {
            let expected = try #require(sent[text(message.value)!])
            #expect(message.topic == "orders")
            #expect(message.key == expected.key)
            #expect(message.headers == expected.headers)
            #expect(message.partition == expected.report.partition)
            #expect(message.offset == expected.report.offset)
            #expect(message.timestampMilliseconds != nil)
        }
        await cluster.close()
    }

    @Test func batchesHandOutEveryBufferedRecordOnceInOrder() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("batches", partitions: 2)
        _ = try await produce(cluster, topic: "batches", values: 0..<300)
        let consumer = try consumer(cluster, topic: "batches", group: "batches")
        var received: [KafkaConsumerMessage] = []
        var largest = 0
        while received.count < 300, let batch = try await consumer.nextBatch(maximum: 64) {
            #expect(batch.count <= 64)
            largest = max(largest, batch.count)
            received += batch
        }
        await consumer.close()
        #expect(received.count == 300, "records repeated or lost")
        #expect(largest > 1, "buffered records come together")
        for partition in Set(received.map(\.partition)) {
            let offsets = received.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == Array(0..<Int64(offsets.count)), "partition \(partition): records lost or reordered")
        }
        await cluster.close()
    }

    @Test func storedOffsetIsCommittedExactly() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("ledger", partitions: 1)
        _ = try await produce(cluster, topic: "ledger", values: 0..<10)
        let consumer = try consumer(cluster, topic: "ledger", group: "exact")
        let collector = Collector(consumer)
        #expect(await collector.waitFor(count: 10))
        let partition = KafkaTopicPartition(topic: "ledger", partition: 0)

        // All ten were read, none stored: a commit commits nothing.
        try await consumer.commit()
        #expect(try await consumer.committedOffsets(for: [partition]) == [:])

        // Records 0…3 processed: store 4 (the next to read), commit, and exactly 4 is committed.
        try consumer.storeOffset(topic: "ledger", partition: 0, offset: 4)
        try await consumer.commit()
        #expect(try await consumer.committedOffsets(for: [partition]) == [partition: 4])
        // The admin client reads the same offset from outside the group; a group that never committed has none.
        let admin = try KafkaAdmin(
            bootstrapServers: cluster.bootstrapServers, timeout: .seconds(10), logger: testLogger)
        #expect(try await admin.committedOffsets(group: "exact", partitions: [partition]) == [partition: 4])
        #expect(try await admin.committedOffsets(group: "nobody", partitions: [partition]) == [:])
        await admin.close()

        // A later store is committed by the background auto-commit (every second) without commit().
        try consumer.storeOffset(topic: "ledger", partition: 0, offset: 7)
        let autoCommitted = await eventually(timeout: .seconds(10)) {
            (try? await consumer.committedOffsets(for: [partition])) == [partition: 7]
        }
        #expect(autoCommitted)
        let watermarks = try await consumer.watermarks(topic: "ledger", partition: 0)
        #expect(watermarks.high == 10)
        // An absurd timeout is librdkafka's longest (Int32.max ms), not an overflow trap.
        let patient = try await consumer.watermarks(topic: "ledger", partition: 0, timeout: .seconds(Int64.max))
        #expect(patient.high == 10)
        await consumer.close()
        await cluster.close()
    }

    @Test func storingOffsetOfUnassignedPartitionThrows() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("mine", partitions: 1)
        try cluster.createTopic("theirs", partitions: 1)
        _ = try await produce(cluster, topic: "mine", values: 0..<3)
        let consumer = try consumer(cluster, topic: "mine", group: "unassigned")
        let collector = Collector(consumer)
        #expect(await collector.waitFor(count: 3))

        let otherTopic = #expect(throws: KafkaError.self) {
            try consumer.storeOffset(topic: "theirs", partition: 0, offset: 1)
        }
        #expect(otherTopic?.code == .notAssigned)
        #expect(otherTopic?.message.contains("theirs[0]") == true)
        let otherPartition = #expect(throws: KafkaError.self) {
            try consumer.storeOffset(topic: "mine", partition: 7, offset: 1)
        }
        #expect(otherPartition?.code == .notAssigned)

        try await consumer.commit()
        let committed = try await consumer.committedOffsets(for: [
            KafkaTopicPartition(topic: "theirs", partition: 0), KafkaTopicPartition(topic: "mine", partition: 0),
        ])
        #expect(committed.isEmpty)
        await consumer.close()
        let afterClose = #expect(throws: KafkaError.self) {
            try consumer.storeOffset(topic: "mine", partition: 0, offset: 1)
        }
        #expect(afterClose?.code == .notAssigned || afterClose?.code == .closed)
        await cluster.close()
    }

    @Test func seekRewindsAnOwnedPartition() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("replay", partitions: 1)
        _ = try await produce(cluster, topic: "replay", values: 0..<6)
        let consumer = try consumer(cluster, topic: "replay", group: "seek")
        let collector = Collector(consumer)
        #expect(await collector.waitFor(count: 6))
        try await consumer.seek(topic: "replay", partition: 0, offset: 2)
        #expect(await collector.waitFor(count: 10))
        try await Task.sleep(for: .milliseconds(500))
        #expect(collector.messages.map(\.offset) == [0, 1, 2, 3, 4, 5, 2, 3, 4, 5])
        let notOwned = await #expect(throws: KafkaError.self) {
            try await consumer.seek(topic: "replay", partition: 3, offset: 0)
        }
        #expect(notOwned?.code == .notAssigned)
        await consumer.close()
        await cluster.close()
    }

    @Test func patternSubscriptionReadsEveryMatchingTopic() async throws {
        let cluster = try KafkaMockCluster()
        for topic in ["tenant-a.billing", "tenant-b.billing", "tenant-a.audit"] {
            try cluster.createTopic(topic, partitions: 1)
            _ = try await produce(cluster, topic: topic, values: 0..<2)
        }
        let consumer = try consumer(cluster, topic: "^tenant-[a-z]+\\.billing$", group: "pattern")
        let collector = Collector(consumer)
        #expect(await collector.waitFor(count: 4))
        try await Task.sleep(for: .milliseconds(500))
        #expect(Set(collector.messages.map(\.topic)) == ["tenant-a.billing", "tenant-b.billing"])
        #expect(collector.messages.count == 4)
        await consumer.close()
        await cluster.close()
    }

    @Test func pauseStopsDeliveryAndResumeRestartsIt() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("paused", partitions: 1)
        _ = try await produce(cluster, topic: "paused", values: 0..<5)
        let consumer = try consumer(cluster, topic: "paused", group: "pause")
        let collector = Collector(consumer)
        #expect(await collector.waitFor(count: 5))

        consumer.pause(topic: "paused", partition: 0)
        #expect(consumer.pausedPartitions == [KafkaTopicPartition(topic: "paused", partition: 0)])
        _ = try await produce(cluster, topic: "paused", values: 5..<10)
        try await Task.sleep(for: .seconds(2))
        #expect(collector.messages.count == 5, "a paused partition delivered records")

        consumer.resume(topic: "paused", partition: 0)
        #expect(await collector.waitFor(count: 10))
        #expect(collector.messages.map(\.offset) == Array(0..<10))
        await consumer.close()
        await cluster.close()
    }

    /// The consumer keeps no pause of its own: pausing a partition it does not own does nothing, and after a
    /// rebalance every partition it is given is fetched until the application pauses it again. (It used to
    /// re-apply remembered pauses, while the relay forgot its own at the revoke: after a member left, the one that
    /// stayed had every partition assigned and delivered nothing.)
    @Test func everyAssignmentStartsUnpaused() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("later", partitions: 2)
        let reports = try await produce(cluster, topic: "later", values: 0..<20)
        let events = Mutex<[KafkaConsumer.RebalanceEvent]>([])
        let fastGroup: (inout KafkaConsumerConfiguration) -> Void = {
            $0.partitionAssignmentStrategy = .roundRobin
            $0.sessionTimeout = .seconds(6)
            $0.properties["heartbeat.interval.ms"] = "300"
        }
        let consumer = try consumer(cluster, topic: "later", group: "unpaused", configure: fastGroup) { event in
            events.withLock { $0.append(event) }
        }
        consumer.pause(topic: "later", partition: 1)
        #expect(consumer.pausedPartitions.isEmpty, "not owned yet: nothing to pause")
        let collector = Collector(consumer)
        #expect(await collector.waitFor(count: 20), "both partitions fetched")

        // Paused while owned; then a second member joins and leaves (two eager rebalances).
        consumer.pause(topic: "later", partition: 0)
        consumer.pause(topic: "later", partition: 1)
        #expect(consumer.pausedPartitions.count == 2)
        let second = try self.consumer(cluster, topic: "later", group: "unpaused", configure: fastGroup)
        let secondCollector = Collector(second)
        #expect(await eventually(timeout: .seconds(45)) { consumer.assignment.count == 1 })
        await second.close()
        secondCollector.cancel()
        #expect(await eventually(timeout: .seconds(45)) { consumer.assignment.count == 2 })
        #expect(consumer.pausedPartitions.isEmpty, "reassigned partitions start unpaused")
        _ = try await produce(cluster, topic: "later", values: 20..<40)
        #expect(
            await eventually(timeout: .seconds(30)) {
                Set(collector.messages.compactMap { text($0.value).flatMap(Int.init) }).isSuperset(of: 20..<40)
            }, "records produced after the rebalance are fetched from both partitions")
        _ = reports
        await consumer.close()
        await cluster.close()
    }

    @Test func pausingThePartitionThatFilledTheBufferLetsOthersFlow() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("crowded", partitions: 2)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: testLogger
        )
        var crowded: Int32 = 0
        for index in 0..<20 {
            crowded = try await producer.send(topic: "crowded", key: bytes("same"), value: bytes("\(index)")).partition
        }
        let consumer = try consumer(cluster, topic: "crowded", group: "crowded") { $0.bufferCapacity = 4 }
        #expect(await eventually(timeout: .seconds(30)) { consumer.assignment.count == 2 })
        try await Task.sleep(for: .seconds(1))  // the buffer is now full of the crowded partition's records
        consumer.pause(topic: "crowded", partition: crowded)
        var other = 0
        for index in 0..<30 {
            let report = try await producer.send(topic: "crowded", key: bytes("k\(index)"), value: bytes("o\(index)"))
            if report.partition != crowded { other += 1 }
        }
        await producer.close()
        let collector = Collector(consumer)
        #expect(await collector.waitFor(count: other, timeout: .seconds(20)))
        #expect(collector.messages.allSatisfy { $0.partition != crowded })
        await consumer.close()
        await cluster.close()
    }

    @Test func fullBufferLosesAndDuplicatesNothing() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("flood", partitions: 2)
        _ = try await produce(cluster, topic: "flood", values: 0..<300)
        let consumer = try consumer(cluster, topic: "flood", group: "backpressure") { $0.bufferCapacity = 8 }
        let collector = Collector(consumer) { _ in usleepMilliseconds(1) }
        try await expectEveryRecordOnceInOrder(collector, count: 300)
        await consumer.close()
        await cluster.close()
    }

    /// The relay pauses and resumes partitions many times a second under a backlog, while the buffer holds their
    /// records: none may be lost, repeated or reordered.
    @Test func pausingAndResumingWhileRecordsAreBufferedKeepsEveryRecordInOrder() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("toggled", partitions: 2)
        _ = try await produce(cluster, topic: "toggled", values: 0..<400)
        let consumer = try consumer(cluster, topic: "toggled", group: "toggled") { $0.bufferCapacity = 64 }
        let collector = Collector(consumer) { _ in usleepMilliseconds(1) }
        for round in 0..<200 where collector.messages.count < 400 {
            let partition = Int32(round % 2)
            consumer.pause(topic: "toggled", partition: partition)
            try await Task.sleep(for: .milliseconds(3))
            consumer.resume(topic: "toggled", partition: partition)
            try await Task.sleep(for: .milliseconds(2))
        }
        try await expectEveryRecordOnceInOrder(collector, count: 400)
        await consumer.close()
        await cluster.close()
    }

    /// Records the application still holds count against the consumer's byte budget: while it keeps them, no more
    /// are handed out (whatever the record count); once it lets them go, the rest arrive, none lost or repeated.
    /// A record larger than the whole budget still passes, alone.
    @Test func recordsHeldByTheApplicationBoundWhatTheConsumerTakes() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("large", partitions: 1)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: testLogger
        )
        let padding = String(repeating: "x", count: 20_000)
        for value in 0..<60 {
            _ = try await producer.send(topic: "large", key: nil, value: bytes("\(value) \(padding)"))
        }
        // One record of 150 KB, larger than the whole 100 KB budget, then small ones.
        _ = try await producer.send(
            topic: "large", key: nil, value: bytes("60 " + String(repeating: "y", count: 150_000)))
        for value in 61..<70 {
            _ = try await producer.send(topic: "large", key: nil, value: bytes("\(value)"))
        }
        await producer.close()

        let budget = ByteBudget(limit: 100_000)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                bootstrapServers: cluster.bootstrapServers, groupID: "budget", topics: ["large"]),
            logger: testLogger,
            budget: budget
        )
        let held = Mutex<[KafkaConsumerMessage]>([])
        let seen = Mutex<[Int]>([])
        let reader = Task {
            for try await message in consumer.messages {
                seen.withLock { $0.append(Int(text(message.value)!.split(separator: " ")[0])!) }
                held.withLock { $0.append(message) }
            }
        }
        #expect(await eventually(timeout: .seconds(20)) { seen.withLock { $0.count } >= 4 })
        try await Task.sleep(for: .milliseconds(500))
        let whileHeld = seen.withLock { $0.count }
        #expect(whileHeld <= 5, "20 KB records held by the application: at most 100 KB of them, got \(whileHeld)")
        #expect(budget.reservedBytes <= 100_000)

        // Let go of everything received, again and again: the rest flows, the large record alone.
        let largeSeenAlone = Mutex(false)
        let drained = await eventually(timeout: .seconds(30)) {
            let messages = held.withLock { held in
                defer { held.removeAll() }
                return held
            }
            if messages.contains(where: { $0.value.count > 100_000 }) {
                largeSeenAlone.withLock { $0 = messages.count == 1 }
            }
            return seen.withLock { $0.count } >= 70
        }
        #expect(drained)
        #expect(largeSeenAlone.withLock { $0 }, "the record larger than the budget was handed out alone")
        #expect(seen.withLock { $0 } == Array(0..<70), "every record once, in order")
        reader.cancel()
        await consumer.close()
        await cluster.close()
    }

    @Test func fullBufferStillServesRebalances() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("stuck", partitions: 2)
        _ = try await produce(cluster, topic: "stuck", values: 0..<200)
        let events = Mutex<[KafkaConsumer.RebalanceEvent]>([])
        // The first member never reads: its buffer fills after 4 records.
        // The mock cluster lets a rebalance run for the session timeout less a second.
        let idle = try consumer(cluster, topic: "stuck", group: "stuck") {
            $0.bufferCapacity = 4
            $0.sessionTimeout = .seconds(6)
            $0.properties["heartbeat.interval.ms"] = "500"
        } rebalanceHandler: {
            event in
            events.withLock { $0.append(event) }
        }
        #expect(await eventually(timeout: .seconds(30)) { idle.assignment.count == 2 })
        try await Task.sleep(for: .milliseconds(500))
        let busy = try consumer(cluster, topic: "stuck", group: "stuck") { $0.sessionTimeout = .seconds(6) }
        let collector = Collector(busy)
        let rebalanced = await eventually(timeout: .seconds(30)) {
            busy.assignment.count == 1 && idle.assignment.count == 1 && !collector.messages.isEmpty
        }
        #expect(rebalanced, "a member with a full buffer blocked the rebalance")
        let seen = events.withLock { $0 }
        #expect(seen.count == 2, "events: \(seen)")
        if case .revoked(let partitions) = seen.last {
            #expect(partitions.count == 1)
            #expect(busy.assignment == Set(partitions))
        } else {
            Issue.record("the idle member was not asked to revoke a partition: \(seen)")
        }
        await busy.close()
        await idle.close()
        await cluster.close()
    }

    /// The relay's reader asks for the next records while the consumer closes (its dispatcher had room again), and
    /// the buffer was full, so the read wakes the poll thread. That wake used to reach librdkafka's close, which then
    /// gave up (`_TIMED_OUT`) before leaving the group; destroying the handle closed again and waited forever, so
    /// the process never exited on SIGTERM.
    @Test func aReadDuringCloseWithAFullBufferDoesNotStopTheClose() async throws {
        let consumerBox = Mutex<KafkaConsumer?>(nil)
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("full", partitions: 1)
        _ = try await produce(cluster, topic: "full", values: 0..<100)
        let readDuringRevoke = Mutex<Bool?>(nil)
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServers, groupID: "full", topics: ["full"])
        configuration.bufferCapacity = 8
        let lines = CollectedLines()
        let consumer = try KafkaConsumer(configuration: configuration, logger: lines.logger) { event in
            guard case .revoked = event, let consumer = consumerBox.withLock({ $0 }) else { return }
            // Within close, the application reads; that ends the stream (nil), since the consumer is closing.
            let ended = (try? await consumer.nextBatch(maximum: 64)) == nil
            readDuringRevoke.withLock { $0 = ended }
        }
        consumerBox.withLock { $0 = consumer }
        #expect(await eventually(timeout: .seconds(30)) { consumer.assignment.count == 1 })
        let first = try #require(try await consumer.nextBatch(maximum: 1)?.first)
        // Nothing more is read until close: the poll thread fills the buffer and waits for room. Records 0 to 9 are
        // the size of the first, which the test still holds: 8 reserved if the buffer was full before the read
        // (7 left and the held one), 9 if the read came first (it refills to 8). Once the reservation stops
        // growing, the poll thread is waiting for room.
        let size = first.heldBytes
        #expect(await eventually(timeout: .seconds(30)) { consumer.budget.reservedBytes >= 8 * size })
        var settled = consumer.budget.reservedBytes
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(300))
            let now = consumer.budget.reservedBytes
            if now == settled { break }
            settled = now
        }
        #expect(settled == 8 * size || settled == 9 * size, "reserved \(settled) bytes, records of \(size)")
        // A close that hangs must fail the test, not hold it: it runs apart, and the test waits for it, bounded.
        let closed = Mutex(false)
        Task {
            await consumer.close()
            closed.withLock { $0 = true }
        }
        #expect(await eventually(timeout: .seconds(30)) { closed.withLock { $0 } }, "close did not return within 30 s")
        #expect(readDuringRevoke.withLock { $0 } == true, "the read during close ended the stream")
        #expect(
            !lines.messages.contains { $0.contains("did not close cleanly") },
            "librdkafka's close ended early, before leaving the group")
        await cluster.close()
    }

    @Test func revokeDeadlineBoundsASlowHandler() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("slow", partitions: 1)
        let handlerFinished = Mutex(false)
        let consumer = try consumer(cluster, topic: "slow", group: "slow") {
            $0.revokeDeadline = .milliseconds(300)
        } rebalanceHandler: { event in
            guard case .revoked = event else { return }
            try? await Task.sleep(for: .seconds(5))
            handlerFinished.withLock { $0 = true }
        }
        _ = Collector(consumer)
        #expect(await eventually(timeout: .seconds(30)) { consumer.assignment.count == 1 })
        await consumer.close()
        #expect(handlerFinished.withLock { $0 } == false, "close waited for the handler beyond the revoke deadline")
        let late = #expect(throws: KafkaError.self) { try consumer.storeOffset(topic: "slow", partition: 0, offset: 1) }
        #expect(late?.code == .notAssigned)
        await cluster.close()
    }

    @Test func producerRefusesSendsAfterClose() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("closed", partitions: 1)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServers),
            logger: testLogger
        )
        let report = try await producer.send(topic: "closed", key: nil, value: bytes("one"))
        #expect(report.offset == 0)
        await producer.close()
        let error = await #expect(throws: KafkaError.self) {
            try await producer.send(topic: "closed", key: nil, value: bytes("two"))
        }
        #expect(error?.code == .closed)
        await cluster.close()
    }

    @Test func rebalanceHandlerSeesAssignmentAndCloseEndsTheStream() async throws {
        let cluster = try KafkaMockCluster()
        try cluster.createTopic("events", partitions: 2)
        let events = Mutex<[KafkaConsumer.RebalanceEvent]>([])
        let consumer = try consumer(cluster, topic: "events", group: "handler") { _ in
        } rebalanceHandler: { event in
            events.withLock { $0.append(event) }
        }
        let collector = Collector(consumer)
        let assigned = await eventually(timeout: .seconds(30)) { consumer.assignment.count == 2 }
        #expect(assigned)
        await consumer.close()
        let all = [
            KafkaTopicPartition(topic: "events", partition: 0), KafkaTopicPartition(topic: "events", partition: 1),
        ]
        let seen = events.withLock { $0 }
        #expect(seen.first == .assigned(all))
        #expect(seen.last == .revoked(all))
        #expect(await eventually(timeout: .seconds(5)) { collector.error == nil && consumer.assignment.isEmpty })
        await cluster.close()
    }

    @Test("close from a cancelled task still stops the cluster: its brokers' ports refuse connections")
    func closeFromACancelledTask() async throws {
        let cluster = try KafkaMockCluster()
        let ports = try cluster.bootstrapServers.map { server in
            try #require(server.split(separator: ":").last.flatMap { UInt16($0) }, "\(server)")
        }
        #expect(ports.allSatisfy(acceptsConnections), "the brokers listen at \(cluster.bootstrapServers)")
        let closing = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await cluster.close()
        }
        await closing.value
        #expect(!ports.contains(where: acceptsConnections), "a broker still listens after close")
    }
}

/// Whether something on 127.0.0.1 accepts a TCP connection on `port`.
private func acceptsConnections(_ port: UInt16) -> Bool {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { return false }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

private func usleepMilliseconds(_ milliseconds: Int) {
    var request = timespec(tv_sec: 0, tv_nsec: milliseconds * 1_000_000)
    nanosleep(&request, nil)
}
