import Synchronization

/// One blocking call's result, delivered once: by the call's thread, or by cancellation (or a timeout), whichever
/// comes first.
final class PendingCall<T: Sendable>: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Result<T, KafkaError>, Never>)
        case finished(Result<T, KafkaError>)
        case delivered
    }

    private let state = Mutex(State.idle)

    /// Parks `continuation` until ``finish(_:)``; false when the call finished (was cancelled) already, and
    /// then `continuation` is resumed at once.
    func wait(_ continuation: CheckedContinuation<Result<T, KafkaError>, Never>) -> Bool {
        let finished = state.withLock { state -> Result<T, KafkaError>? in
            guard case .finished(let result) = state else {
                state = .waiting(continuation)
                return nil
            }
            state = .delivered
            return result
        }
        guard let finished else { return true }
        continuation.resume(returning: finished)
        return false
    }

    /// Delivers `result` unless one was delivered already.
    func finish(_ result: Result<T, KafkaError>) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<T, KafkaError>, Never>? in
            switch state {
            case .idle:
                state = .finished(result)
                return nil
            case .waiting(let continuation):
                state = .delivered
                return continuation
            case .finished, .delivered:
                return nil
            }
        }
        waiter?.resume(returning: result)
    }
}
