import NIOCore

// MARK: - HTTP1Connection

/// One keep-alive HTTP/1.1 connection of ``HTTP1Transport``: at most one request at a time, which the pool
/// ensures by lending each connection to one sender.
final class HTTP1Connection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<HTTP1ConnectionHandler>

    init(channel: any Channel, handler: NIOLoopBound<HTTP1ConnectionHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// Whether the socket is still open.
    var isActive: Bool { channel.isActive }

    /// Sends one encoded request; the future completes on the connection's event loop.
    func execute(_ request: ByteBuffer, deadline: NIODeadline) -> EventLoopFuture<HTTP1Response> {
        let promise = channel.eventLoop.makePromise(of: HTTP1Response.self)
        let handler = self.handler
        if channel.eventLoop.inEventLoop {
            handler.value.send(request, deadline: deadline, promise: promise)
        } else {
            channel.eventLoop.execute { handler.value.send(request, deadline: deadline, promise: promise) }
        }
        return promise.futureResult
    }

    /// Fails the request in flight and closes the connection.
    func cancel() {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.cancel() }
    }

    func close() {
        channel.close(promise: nil)
    }
}
