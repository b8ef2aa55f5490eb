import CEL
import Foundation
import KafkaClient
import Logging
import Rules
import Synchronization

// MARK: - DeadLetterReader

/// Reads the dead-letter topic from its start (`dlq inspect`, `dlq replay`) with a throwaway consumer group
/// that never commits, so reading changes nothing for the relay.
public enum DeadLetterReader {
    /// One dead letter: the record as written, and its relay headers.
    public struct DeadLetter: Sendable {
        /// Where the dead letter itself lives (topic, partition, offset).
        public var coordinates: RecordCoordinates
        /// The record's key, value and headers (the original's, plus the relay's); the dead letters `read` lists
        /// have none of them (what they say is in ``envelope``).
        public var message: KafkaConsumerMessage
        /// The relay headers: rule, class, message, original coordinates, times.
        public var envelope: RetryEnvelope
    }

    /// Reads every dead letter present now, for listing: each is kept as its envelope, without its key, value and
    /// headers (up to `limit` of them are held to be sorted, and a dead letter may be megabytes).
    /// - Parameters:
    ///   - topic: the dead-letter topic.
    ///   - bootstrapServers: the brokers.
    ///   - properties: client properties (SASL, TLS, …).
    ///   - limit: stop after this many selected.
    ///   - isSelected: which dead letters to return (default: all).
    ///   - logger: the consumer's logger.
    /// - Returns: dead letters in partition, then offset order; records without readable relay headers are skipped
    ///   and counted in `unreadable`.
    public static func read(
        topic: String,
        bootstrapServers: [String],
        properties: [String: String],
        limit: Int = .max,
        selecting isSelected: (RetryEnvelope) -> Bool = { _ in true },
        logger: Logger
    ) async throws -> (letters: [DeadLetter], unreadable: Int) {
        var letters: [DeadLetter] = []
        var unreadable = 0
        try await forEachRecord(
            topic: topic, bootstrapServers: bootstrapServers, properties: properties, limit: limit, logger: logger
        ) { message in
            guard let envelope = try? RetryEnvelope.parse(message.headers) else {
                unreadable += 1
                return false
            }
            guard isSelected(envelope) else { return false }
            let coordinates = RecordCoordinates(
                topic: message.topic, partition: message.partition, offset: message.offset)
            var kept = message
            kept.key = nil
            kept.value = []
            kept.headers = []
            letters.append(DeadLetter(coordinates: coordinates, message: kept, envelope: envelope))
            return true
        }
        letters.sort {
            ($0.coordinates.partition, $0.coordinates.offset) < ($1.coordinates.partition, $1.coordinates.offset)
        }
        return (letters, unreadable)
    }

    /// Reads a topic from its start until no record arrived for `idleTimeout` (or none at all within
    /// `joinTimeout`), with a throwaway group that commits nothing.
    /// - Returns: the records in partition, then offset order.
    public static func records(
        topic: String,
        bootstrapServers: [String],
        properties: [String: String],
        limit: Int = .max,
        joinTimeout: Duration = .seconds(15),
        idleTimeout: Duration = .seconds(3),
        logger: Logger
    ) async throws -> [KafkaConsumerMessage] {
        var messages: [KafkaConsumerMessage] = []
        try await forEachRecord(
            topic: topic, bootstrapServers: bootstrapServers, properties: properties, limit: limit,
            joinTimeout: joinTimeout, idleTimeout: idleTimeout, logger: logger
        ) {
            messages.append($0)
            return true
        }
        return messages.sorted {
            ($0.topic, $0.partition, $0.offset) < ($1.topic, $1.partition, $1.offset)
        }
    }

    /// A consumer group name used once (`affonso-relay.reader.<random>`).
    public static func throwawayGroupID() -> String {
        "affonso-relay.reader.\(UInt64.random(in: 0...UInt64.max))"
    }

    /// Reads a topic with a throwaway group that commits nothing, handing each record to `body` as it arrives
    /// (`rules tap`), until `limit` records, or no record arrived for `idleTimeout` (or none at all within
    /// `joinTimeout`).
    /// - Parameters:
    ///   - groupID: the group (default: a new ``throwawayGroupID()``); it never commits.
    ///   - start: where a group without offsets starts: `.earliest` (the log's start) or `.latest` (records
    ///     produced from now on).
    ///   - maximumBufferedBytes: the bytes of records read ahead and not yet let go by `body` (default: no bound,
    ///     for a caller that keeps what it is handed).
    public static func forEachRecord(
        topic: String,
        bootstrapServers: [String],
        properties: [String: String],
        groupID: String = throwawayGroupID(),
        start: KafkaConsumerConfiguration.AutoOffsetReset = .earliest,
        limit: Int = .max,
        joinTimeout: Duration = .seconds(15),
        idleTimeout: Duration = .seconds(3),
        maximumBufferedBytes: Int = .max,
        logger: Logger,
        _ body: (KafkaConsumerMessage) async throws -> Bool
    ) async throws {
        guard limit > 0 else { return }
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: bootstrapServers,
            groupID: groupID,
            topics: [topic]
        )
        configuration.properties = properties
        configuration.autoCommitInterval = nil
        configuration.autoOffsetReset = start
        // Nobody else joins a throwaway group, but a member the broker has not yet dropped (a reader killed, or a
        // close the broker missed) holds up the next join of the same group until its session times out.
        configuration.sessionTimeout = .seconds(10)
        // A caller that keeps every record it is handed needs no budget (`.max`): one would stop it part-way, and
        // the idle timeout would then end the read early without a word. One that lets go of them bounds its read-
        // ahead with a budget.
        configuration.maximumBufferedBytes = maximumBufferedBytes
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        var count = 0
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                let lastSeen = LastSeen(ContinuousClock.now + joinTimeout - idleTimeout)
                group.addTask {
                    while lastSeen.quiet < idleTimeout { try await Task.sleep(for: .milliseconds(100)) }
                    await consumer.close()
                }
                for try await message in consumer.messages {
                    // The quiet clock stands still while `body` works (a replay waits for its sends).
                    lastSeen.begin()
                    let counted = try await body(message)
                    lastSeen.end()
                    if counted { count += 1 }
                    if count >= limit { break }
                }
                group.cancelAll()
            }
        } catch is CancellationError {
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    /// A record read from a source topic as the rules see it (`rules tap`): its own coordinates, key, value,
    /// headers (relay headers left out, as the pipeline does) and timestamp.
    public static func sourceRecord(_ message: KafkaConsumerMessage) -> SourceRecord {
        SourceRecord(message, at: RecordCoordinates(message), originalTimestamp: nil)
    }
}

// MARK: - LastSeen

/// When a reader last saw a record, shared between the reading task and the one watching for quiet.
final class LastSeen: Sendable {
    private let value: Mutex<(instant: ContinuousClock.Instant, busy: Bool)>
    init(_ start: ContinuousClock.Instant) { value = Mutex((start, false)) }
    var instant: ContinuousClock.Instant { value.withLock { $0.instant } }
    /// How long nothing happened: zero while a record is being handled (between ``begin()`` and ``end()``).
    var quiet: Duration { value.withLock { $0.busy ? .zero : .now - $0.instant } }
    func touch() { value.withLock { $0.instant = .now } }
    func begin() { value.withLock { $0 = (.now, true) } }
    func end() { value.withLock { $0 = (.now, false) } }
}
