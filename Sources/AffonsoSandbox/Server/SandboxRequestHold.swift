import Synchronization

/// For tests (`@testable import AffonsoSandbox`): while engaged, every API request waits on arrival, before its
/// faults are decided and before it is authorized, until ``release()``. A test can so know that requests are in
/// the sandbox, with the headers they were sent with, before it changes what they will meet (a rotated key, new
/// faults), however loaded the machine is; a fixed sleep cannot tell it that.
final class SandboxRequestHold: Sendable {
    private struct State {
        var isEngaged = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// Requests waiting now.
    var held: Int { state.withLock { $0.waiters.count } }

    /// Requests that arrive from now on wait until ``release()``.
    func engage() {
        state.withLock { $0.isEngaged = true }
    }

    /// Lets every waiting request go on; later ones do not wait.
    func release() {
        let waiters = state.withLock { state in
            state.isEngaged = false
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0.resume() }
    }

    /// Returns at once unless engaged; else on ``release()`` or when the task is cancelled (the server stops).
    func pass() async {
        let id = state.withLock { state -> Int? in
            guard state.isEngaged else { return nil }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let waits = state.withLock { state -> Bool in
                    guard state.isEngaged, !Task.isCancelled else { return false }
                    state.waiters[id] = continuation
                    return true
                }
                if !waits { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
