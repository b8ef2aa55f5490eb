import NIOCore
import NIOHTTP1

// MARK: - HTTP1ConnectionHandler

/// The last handler of an ``HTTP1Connection``'s pipeline: sends one pre-encoded request at a time, collects the
/// decoded response (the body up to a limit, the rest is dropped) and completes the request's promise; fails it
/// when the deadline passes (and closes the connection), the connection closes, or an error arrives.
/// Used only on its channel's event loop.
final class HTTP1ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// What `HTTPResponseDecoder` needs to know of each request: only the method matters to it.
    private static let requestHead = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/")

    private struct Pending {
        var promise: EventLoopPromise<HTTP1Response>
        var timeout: Scheduled<Void>?
        var head: HTTPResponseHead?
        var body: ByteBuffer?
    }

    private let maximumBodyBytes: Int
    private var context: ChannelHandlerContext?
    private var pending: Pending?
    /// The error that ended the connection, for requests that arrive after it.
    private var failure: HTTP1TransportError?

    init(maximumBodyBytes: Int) {
        self.maximumBodyBytes = maximumBodyBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: - Requests

    /// Writes `request` (head and body, encoded) with one flush and completes `promise` with its response.
    func send(_ request: ByteBuffer, deadline: NIODeadline, promise: EventLoopPromise<HTTP1Response>) {
        guard let context, context.channel.isActive, pending == nil else {
            promise.fail(failure ?? .connectionClosed(responseStatus: nil))
            return
        }
        let timeout = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] () -> Void in
            self?.timedOut()
        }
        pending = Pending(promise: promise, timeout: timeout)
        context.write(wrapOutboundOut(.head(Self.requestHead)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(request))), promise: nil)
    }

    /// Fails the request in flight (if any) and closes the connection, e.g. when the sending task is cancelled.
    func cancel() {
        fail(HTTP1TransportError(code: .connectionClosed, message: "the request was cancelled"))
        context?.close(promise: nil)
    }

    private func timedOut() {
        fail(
            HTTP1TransportError(
                code: .timeout,
                message: pending?.head.map {
                    "the HTTP \($0.status.code) response's body did not arrive before the deadline"
                } ?? "no complete response before the deadline",
                responseStatus: headStatus
            ))
        context?.close(promise: nil)
    }

    /// The status of the response head of the request in flight, once it arrived.
    private var headStatus: Int? { pending?.head.map { Int($0.status.code) } }

    private func fail(_ error: HTTP1TransportError) {
        guard let pending else { return }
        self.pending = nil
        pending.timeout?.cancel()
        pending.promise.fail(error)
    }

    // MARK: - Responses

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            pending?.head = head
        case .body(var part):
            guard var current = pending else { return }
            pending = nil  // keeps the body buffer uniquely referenced while it grows
            let room = maximumBodyBytes - (current.body?.readableBytes ?? 0)
            if room > 0, let slice = part.readSlice(length: min(room, part.readableBytes)) {
                if current.body == nil {
                    current.body = slice
                } else {
                    current.body!.writeImmutableBuffer(slice)
                }
            }
            pending = current
        case .end:
            guard let current = pending, let head = current.head else { return }
            pending = nil
            current.timeout?.cancel()
            current.promise.succeed(
                HTTP1Response(
                    status: Int(head.status.code),
                    headers: head.headers,
                    body: current.body ?? ByteBuffer(),
                    isKeepAlive: head.isKeepAlive
                ))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let closed = failure ?? .connectionClosed(responseStatus: headStatus)
        failure = closed
        fail(closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let wrapped = HTTP1TransportError(
            code: .io,
            message: "the connection failed",
            responseStatus: headStatus,
            underlying: error
        )
        failure = wrapped
        fail(wrapped)
        context.close(promise: nil)
    }
}
