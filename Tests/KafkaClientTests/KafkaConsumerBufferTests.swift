import Testing

@testable import KafkaClient

/// The consumer's buffer when the application pauses a partition: records of paused partitions are set aside as
/// the iterator reaches them and come back first on resume, so each partition stays in offset order.
@Suite struct KafkaConsumerBufferTests {
    static let zero = KafkaTopicPartition(topic: "billing", partition: 0)
    static let one = KafkaTopicPartition(topic: "billing", partition: 1)

    static func message(_ partition: KafkaTopicPartition, _ offset: Int64) -> KafkaConsumerMessage? {
        KafkaConsumerMessage(
            topic: partition.topic, partition: partition.partition, offset: offset, key: nil, value: [])
    }

    static func drain(_ state: inout KafkaConsumer.State) -> [String] {
        var taken: [String] = []
        while let message = state.popDeliverable() { taken.append("\(message.partition):\(message.offset)") }
        return taken
    }

    @Test func aPausedPartitionsRecordsAreSkippedThenDeliveredFirstAndInOrderOnResume() {
        var state = KafkaConsumer.State()
        var batch = [
            Self.message(Self.zero, 0), Self.message(Self.one, 0), Self.message(Self.zero, 1),
            Self.message(Self.one, 1), Self.message(Self.zero, 2),
        ]
        state.buffer.append(moving: &batch)
        state.userPaused.insert(Self.zero)
        let first = state.popDeliverable()  // partition 0's first record is set aside
        #expect(first?.partition == 1 && first?.offset == 0)
        #expect(state.held[Self.zero]?.map(\.offset) == [0])
        let resumed = state.unpause(Self.zero)
        let resumedAgain = state.unpause(Self.zero)
        #expect(resumed)
        #expect(!resumedAgain, "a partition that is not paused cannot be resumed")
        #expect(Self.drain(&state) == ["0:0", "0:1", "1:1", "0:2"])
    }

    @Test func resumingAfterMostOfTheBufferWasTakenPutsHeldRecordsInFront() {
        var state = KafkaConsumer.State()
        var batch = (0..<6).map { Self.message($0 < 3 ? Self.zero : Self.one, Int64($0 % 3)) }
        state.buffer.append(moving: &batch)
        state.userPaused.insert(Self.zero)
        let first = state.popDeliverable()  // partition 0's three records are set aside
        #expect(first?.partition == 1)
        var more = [Self.message(Self.zero, 3), Self.message(Self.one, 3)]
        state.buffer.append(moving: &more)
        let resumed = state.unpause(Self.zero)
        #expect(resumed)
        #expect(Self.drain(&state) == ["0:0", "0:1", "0:2", "1:1", "1:2", "0:3", "1:3"])
    }

    @Test func heldRecordsGoInFrontOfABufferThatWasRefilledMeanwhile() {
        var state = KafkaConsumer.State()
        var batch = [
            Self.message(Self.zero, 0), Self.message(Self.zero, 1), Self.message(Self.zero, 2),
            Self.message(Self.one, 0),
        ]
        state.buffer.append(moving: &batch)
        state.userPaused.insert(Self.zero)
        let first = state.popDeliverable()
        #expect(first?.partition == 1)
        var refill = [Self.message(Self.one, 1), Self.message(Self.zero, 3)]
        state.buffer.append(moving: &refill)
        let resumed = state.unpause(Self.zero)
        #expect(resumed)
        #expect(Self.drain(&state) == ["0:0", "0:1", "0:2", "1:1", "0:3"])
    }
}
