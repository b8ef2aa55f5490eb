import NIOCore

// MARK: - HTTP1ConnectionHandler

/// The handler of an ``HTTP1Connection``'s pipeline: writes one pre-encoded request at a time, reads its response
/// with an ``HTTP1ResponseParser`` and completes the request; fails it when its deadline passes (and closes the
/// connection), the connection closes, or an error arrives. Used only on its channel's event loop.
///
/// One timer per connection serves every request's deadline: when it fires early for the request in flight (the
/// one it was set for was answered), it is set again for that request's deadline, so a request costs no timer.
final class HTTP1ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    typealias Completion = (Result<HTTP1Response, HTTP1TransportError>) -> Void

    private struct Pending {
        var completion: Completion
        var deadline: NIODeadline
    }

    private var parser: HTTP1ResponseParser
    private var context: ChannelHandlerContext?
    private var pending: Pending?
    private var timer: (task: Scheduled<Void>, deadline: NIODeadline)?
    /// The error that ended the connection, for requests that arrive after it.
    private var failure: HTTP1TransportError?

    init(maximumBodyBytes: Int) {
        self.parser = HTTP1ResponseParser(maximumBodyBytes: maximumBodyBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: - Requests

    /// Writes `request` (head and body, encoded) with one flush and calls `completion` once with its response.
    func send(_ request: ByteBuffer, deadline: NIODeadline, completion: @escaping Completion) {
        guard let context, context.channel.isActive, pending == nil, failure == nil else {
            completion(.failure(failure ?? .connectionClosed(responseStatus: nil)))
            return
        }
        pending = Pending(completion: completion, deadline: deadline)
        if timer == nil || timer!.deadline > deadline { armTimer(deadline, context: context) }
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    /// Fails the request in flight (if any) and closes the connection, e.g. when the sending task is cancelled.
    func cancel() {
        fail(HTTP1TransportError(code: .connectionClosed, message: "the request was cancelled"))
        context?.close(promise: nil)
    }

    /// The timer holds the handler strongly until it fires or is cancelled (at the latest when the channel goes
    /// inactive): a weak reference would give the handler a side table, and every retain of it (several per
    /// request, by the pipeline) would take the runtime's slow path.
    private func armTimer(_ deadline: NIODeadline, context: ChannelHandlerContext) {
        timer?.task.cancel()
        let task = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { () -> Void in
            self.timerFired()
        }
        timer = (task, deadline)
    }

    private func timerFired() {
        timer = nil
        guard let pending else { return }
        if NIODeadline.now() < pending.deadline {
            if let context { armTimer(pending.deadline, context: context) }
            return
        }
        let status = parser.status
        let message =
            if let status { "the HTTP \(status) response's body did not arrive before the deadline" } else {
                "no complete response before the deadline"
            }
        fail(HTTP1TransportError(code: .timeout, message: message, responseStatus: status))
        context?.close(promise: nil)
    }

    private func fail(_ error: HTTP1TransportError) {
        guard let pending else { return }
        self.pending = nil
        pending.completion(.failure(error))
    }

    // MARK: - Responses

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard pending != nil else {
            // Nothing was asked: a server that talks out of turn cannot be trusted with the next request.
            failure = HTTP1TransportError(code: .io, message: "the server sent bytes no request asked for")
            context.close(promise: nil)
            return
        }
        switch parser.read(bytes) {
        case nil:
            break
        case .success(let response):
            guard let current = pending else { return }
            pending = nil
            current.completion(.success(response))
        case .failure(let error):
            var error = error
            error.responseStatus = parser.status
            failure = error
            fail(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.task.cancel()
        timer = nil
        if let response = parser.closed(), let current = pending {
            pending = nil
            current.completion(.success(response))
        }
        let closed = failure ?? .connectionClosed(responseStatus: parser.status)
        failure = closed
        fail(closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let wrapped = HTTP1TransportError(
            code: .io,
            message: "the connection failed",
            responseStatus: parser.status,
            underlying: error
        )
        failure = wrapped
        fail(wrapped)
        context.close(promise: nil)
    }
}
