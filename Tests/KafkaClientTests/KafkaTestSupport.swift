import KafkaClient
import Logging
import Synchronization

/// A quiet logger for tests (warnings and errors only).
let testLogger: Logger = {
    var logger = Logger(label: "KafkaClientTests")
    logger.logLevel = .warning
    return logger
}()

/// Iterates a consumer's messages in the background and records them.
final class Collector: Sendable {
    private let received = Mutex<[KafkaConsumerMessage]>([])
    private let failure = Mutex<(any Error)?>(nil)
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts iterating; `process` runs for each message before it is recorded.
    init(_ consumer: KafkaConsumer, process: @escaping @Sendable (KafkaConsumerMessage) -> Void = { _ in }) {
        let started = Task { [self] in
            do {
                for try await message in consumer.messages {
                    process(message)
                    self.received.withLock { $0.append(message) }
                }
            } catch {
                self.failure.withLock { $0 = error }
            }
        }
        task.withLock { $0 = started }
    }

    var messages: [KafkaConsumerMessage] { received.withLock { $0 } }
    var error: (any Error)? { failure.withLock { $0 } }

    /// Waits until at least `count` messages arrived; returns whether they did within `timeout`.
    func waitFor(count: Int, timeout: Duration = .seconds(30)) async -> Bool {
        await eventually(timeout: timeout) { self.messages.count >= count }
    }

    func cancel() { task.withLock { $0?.cancel() } }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func eventually(timeout: Duration, _ condition: @Sendable () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
