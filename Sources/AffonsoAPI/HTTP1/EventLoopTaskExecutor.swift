import NIOCore

// MARK: - EventLoopTaskExecutor

/// Runs the jobs of the tasks that prefer it on one NIO event loop (SE-0417 task executor preference).
///
/// A task on it that sends through ``HTTP1Transport`` uses connections of the same loop: the request is written
/// and its response completes the task's continuation on one thread, with no hop to Swift's global executor and
/// back (each hop is a thread wake-up).
public final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
