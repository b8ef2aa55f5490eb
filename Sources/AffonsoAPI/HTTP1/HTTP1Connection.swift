import NIOCore

// MARK: - HTTP1Connection

/// One keep-alive HTTP/1.1 connection of ``HTTP1Transport``: at most one request at a time, which the pool
/// ensures by lending each connection to one sender.
final class HTTP1Connection: Sendable {
    let channel: any Channel
    /// The identity of the channel's event loop (the pool matches it per lease without touching the channel).
    let loopID: ObjectIdentifier
    private let handler: NIOLoopBound<HTTP1ConnectionHandler>

    init(channel: any Channel, handler: NIOLoopBound<HTTP1ConnectionHandler>) {
        self.channel = channel
        self.loopID = ObjectIdentifier(channel.eventLoop)
        self.handler = handler
    }

    /// Whether the socket is still open.
    var isActive: Bool { channel.isActive }

    /// Sends one encoded request and returns its response (read on the connection's event loop; a caller running
    /// on that loop is resumed there without a thread hop).
    func execute(_ request: ByteBuffer, deadline: NIODeadline) async throws(HTTP1TransportError) -> HTTP1Response {
        let handler = self.handler
        let loop = channel.eventLoop
        let result = await withUnsafeContinuation {
            (continuation: UnsafeContinuation<Result<HTTP1Response, HTTP1TransportError>, Never>) in
            if loop.inEventLoop {
                handler.value.send(request, deadline: deadline) { continuation.resume(returning: $0) }
            } else {
                loop.execute { handler.value.send(request, deadline: deadline) { continuation.resume(returning: $0) } }
            }
        }
        return try result.get()
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
