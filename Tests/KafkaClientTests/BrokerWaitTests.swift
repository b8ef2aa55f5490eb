import Logging
import Synchronization
import Testing

@testable import KafkaClient

/// A broker that does not answer is one clear error within the timeout, and librdkafka's reconnect lines reach the
/// logger once per 10 s, not 20 times a second.
@Suite(.timeLimit(.minutes(1)))
struct BrokerWaitTests {
    /// How soon a call that must not wait for librdkafka's 30 s timeout returns: a third of it, so that a shared,
    /// loaded CI machine never fails a call that returned at once, and one that waited fails still.
    static let atOnce = Duration.seconds(10)

    @Test("waitForBroker on a dead address: the message names the address, the timeout and what to check")
    func deadAddress() async throws {
        let lines = CollectedLines()
        let admin = try KafkaAdmin(bootstrapServers: ["127.0.0.1:1"], logger: lines.logger)
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: KafkaError.self) { try await admin.waitForBroker(timeout: .seconds(3)) }
        let elapsed = clock.now - start
        await admin.close()
        #expect(
            error?.message
                == "no Kafka broker answered at 127.0.0.1:1 within 3s; check kafka.brokers and the network")
        #expect(error?.code == .timeout)
        #expect(elapsed < .seconds(6), "took \(elapsed)")
        // librdkafka retries the connection every ~50 ms; the logger hears each distinct line once in 3 s.
        let failures = lines.messages.filter { $0.contains("Connect to ipv4#127.0.0.1:1 failed") }
        #expect(failures.count == 1, "\(lines.messages)")
        #expect(failures.allSatisfy { $0.hasPrefix("librdkafka: ") })
    }

    @Test("waitForBroker returns once the mock broker answers")
    func answeringBroker() async throws {
        let cluster = try KafkaMockCluster()
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers, logger: testLogger)
        try await admin.waitForBroker(timeout: .seconds(10))
        await admin.close()
        await cluster.close()
    }

    @Test(
        "a cancelled admin call returns at once, though librdkafka's call blocks until its timeout",
        arguments: ["waitForBroker", "createTopic"])
    func cancelledCall(operation: String) async throws {
        let admin = try KafkaAdmin(bootstrapServers: ["127.0.0.1:1"], timeout: .seconds(30), logger: testLogger)
        let call = Task { () async throws -> Void in
            if operation == "waitForBroker" {
                try await admin.waitForBroker(timeout: .seconds(30))
            } else {
                try await admin.createTopic(.init(name: "t"))
            }
        }
        // Let the call reach librdkafka (and block there) before cancelling it.
        try await Task.sleep(for: .milliseconds(500))
        let clock = ContinuousClock()
        let cancelled = clock.now
        call.cancel()
        let result = await call.result
        let elapsed = clock.now - cancelled
        // "At once" beside the 30 s librdkafka blocks for, with room for a loaded machine (seconds, not 30).
        #expect(elapsed < Self.atOnce, "took \(elapsed)")
        guard case .failure(let error) = result else {
            Issue.record("the cancelled \(operation) succeeded")
            return
        }
        #expect((error as? KafkaError)?.code == .cancelled, "\(error)")
        // The call still blocks a thread: close frees librdkafka after it, without waiting for it.
        let closing = clock.now
        await admin.close()
        #expect(clock.now - closing < Self.atOnce, "close took \(clock.now - closing)")
        let closed = await #expect(throws: KafkaError.self) { try await admin.waitForBroker() }
        #expect(closed?.code == .closed)
    }

    @Test("repeated identical lines: the first is logged, the rest are counted and reported after the interval")
    func repeatLimiter() {
        let limiter = LogRepeatLimiter(interval: .seconds(10))
        let start = ContinuousClock.now
        #expect(limiter.admit("a", now: start) == .log(repeated: 0))
        for second in 1...9 {
            #expect(limiter.admit("a", now: start + .seconds(second)) == .suppress)
        }
        #expect(limiter.admit("b", now: start + .seconds(5)) == .log(repeated: 0), "another line is not held back")
        #expect(limiter.admit("a", now: start + .seconds(10)) == .log(repeated: 9))
        #expect(limiter.admit("a", now: start + .seconds(11)) == .suppress)
        #expect(limiter.admit("a", now: start + .seconds(25)) == .log(repeated: 1))
    }
}

/// A logger whose messages can be read back.
final class CollectedLines: Sendable {
    private let storage = Mutex<[String]>([])

    var messages: [String] { storage.withLock { $0 } }

    var logger: Logger {
        // A label of its own: librdkafka's repeated lines are held back per logger label, across tests too.
        Logger(label: "collected-\(ObjectIdentifier(self).hashValue)") { _ in Handler(lines: self) }
    }

    func append(_ message: String) { storage.withLock { $0.append(message) } }

    struct Handler: LogHandler {
        let lines: CollectedLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            lines.append(event.message.description)
        }
    }
}
