import CRdKafka
import Dispatch
import Foundation
import Logging

/// Owns an `rd_kafka_t` pointer. librdkafka handles are thread-safe; the box only makes that visible to Swift.
final class RDKafkaHandle: @unchecked Sendable {
    /// Set once, before any thread or callback can see the box.
    private(set) var pointer: OpaquePointer!

    init() {}

    /// False until ``set(_:)``: a client whose `init` threw before `rd_kafka_new` succeeded has no handle to free.
    var isSet: Bool { pointer != nil }

    func set(_ pointer: OpaquePointer) {
        precondition(self.pointer == nil, "RDKafkaHandle set twice")
        self.pointer = pointer
    }
}

/// Runs blocking librdkafka calls (sync commit, metadata, committed offsets, watermarks) off the cooperative pool.
enum RDKafkaBlocking {
    static let queue = DispatchQueue(label: "KafkaClient.blocking", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws(KafkaError) -> T) async throws(KafkaError) -> T {
        let result: Result<T, KafkaError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(KafkaError) -> T in try body() })
            }
        }
        return try result.get()
    }
}

/// Starts a named, dedicated OS thread (never the Swift cooperative pool) for a poll loop.
enum RDKafkaThread {
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { body() }
        thread.name = name
        thread.start()
    }
}

/// Routes librdkafka's log lines into swift-log.
enum RDKafkaLog {
    static func level(syslog: Int32) -> Logger.Level {
        switch syslog {
        case ...3: return .error
        case 4: return .warning
        case 5, 6: return .info
        default: return .debug
        }
    }
}
