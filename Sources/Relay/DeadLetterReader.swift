import Foundation
import KafkaClient
import Logging
import Synchronization

// MARK: - DeadLetterReader

/// Reads the dead-letter topic from its start (`dlq inspect`, `dlq replay`) with a throwaway consumer group
/// that never commits, so reading changes nothing for the relay.
public enum DeadLetterReader {
    /// One dead letter: the record as written, and its relay headers.
    public struct DeadLetter: Sendable {
        /// Where the dead letter itself lives (topic, partition, offset).
        public var coordinates: RecordCoordinates
        /// The record's key, value and headers (the original's, plus the relay's).
        public var message: KafkaConsumerMessage
        /// The relay headers: rule, class, message, original coordinates, times.
        public var envelope: RetryEnvelope
    }

    /// Reads every dead letter present now.
    /// - Parameters:
    ///   - topic: the dead-letter topic.
    ///   - bootstrapServers: the brokers.
    ///   - properties: client properties (SASL, TLS, …).
    ///   - limit: stop after this many.
    ///   - joinTimeout: how long to wait for the first record (joining the group takes seconds).
    ///   - idleTimeout: how long to wait for more records once they stop arriving.
    /// - Returns: dead letters in partition, then offset order; records without readable relay headers are skipped
    ///   and counted in `unreadable`.
    public static func read(
        topic: String,
        bootstrapServers: [String],
        properties: [String: String],
        limit: Int = .max,
        joinTimeout: Duration = .seconds(15),
        idleTimeout: Duration = .seconds(3),
        logger: Logger
    ) async throws -> (letters: [DeadLetter], unreadable: Int) {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: bootstrapServers,
            groupID: "affonso-relay.dlq-reader.\(UInt64.random(in: 0...UInt64.max))",
            topics: [topic]
        )
        configuration.properties = properties
        configuration.autoCommitInterval = nil
        configuration.autoOffsetReset = .earliest
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        var letters: [DeadLetter] = []
        var unreadable = 0
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let lastSeen = LastSeen(ContinuousClock.now + joinTimeout - idleTimeout)
                group.addTask {
                    // Ends the read once nothing new arrived for `idleTimeout` (or nothing at all within `joinTimeout`).
                    while ContinuousClock.now - lastSeen.instant < idleTimeout {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    await consumer.close()
                }
                for try await message in consumer.messages {
                    lastSeen.touch()
                    let headers = message.headers.map { RecordHeader(key: $0.key, value: $0.value) }
                    guard let envelope = try? RetryEnvelope.parse(headers) else {
                        unreadable += 1
                        continue
                    }
                    letters.append(
                        DeadLetter(
                            coordinates: RecordCoordinates(
                                topic: message.topic, partition: message.partition, offset: message.offset),
                            message: message,
                            envelope: envelope
                        )
                    )
                    if letters.count >= limit { break }
                }
                group.cancelAll()
            }
        } catch is CancellationError {}
        await consumer.close()
        return (letters.sorted { $0.coordinates < $1.coordinates }, unreadable)
    }

    private final class LastSeen: Sendable {
        private let value: Mutex<ContinuousClock.Instant>
        init(_ start: ContinuousClock.Instant) { value = Mutex(start) }
        var instant: ContinuousClock.Instant { value.withLock { $0 } }
        func touch() { value.withLock { $0 = .now } }
    }
}
