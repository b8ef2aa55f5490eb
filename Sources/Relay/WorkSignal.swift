import Synchronization

// MARK: - WorkSignal

/// Wakes parked tasks: each signal lets one ``wait()`` return, in the order the tasks started waiting; a signal
/// nobody waits for is kept for the next ``wait()`` (up to `maximumPermits`). The delivery workers park on one while
/// no job is started; the consumer task on another while the dispatcher is full.
final class WorkSignal: Sendable {
    private struct State {
        var permits = 0
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())
    /// The most signals kept for later waits (1 makes it a flag: "something changed, look again").
    private let maximumPermits: Int

    init(maximumPermits: Int = .max) {
        self.maximumPermits = max(1, maximumPermits)
    }

    /// Signals kept for waits to come.
    var keptSignals: Int { state.withLock { $0.permits } }

    /// Lets `count` waits return.
    func signal(_ count: Int = 1) {
        guard count > 0 else { return }
        let woken = state.withLock { state in
            let woken = state.waiters.prefix(count).map(\.continuation)
            state.waiters.removeFirst(woken.count)
            state.permits = min(maximumPermits, state.permits + (count - woken.count))
            return woken
        }
        for continuation in woken { continuation.resume(returning: true) }
    }

    /// Waits for a signal.
    /// - Returns: true when signalled, false when the task was cancelled first.
    func wait() async -> Bool {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let result: Bool? = state.withLock { state in
                    if state.permits > 0 {
                        state.permits -= 1
                        return true
                    }
                    if Task.isCancelled { return false }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let result { continuation.resume(returning: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                state.waiters.firstIndex { $0.id == id }.map { state.waiters.remove(at: $0).continuation }
            }
            waiter?.resume(returning: false)
        }
    }
}
