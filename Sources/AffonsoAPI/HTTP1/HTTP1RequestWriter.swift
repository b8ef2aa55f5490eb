import NIOCore
import NIOHTTP1

// MARK: - HTTP1RequestWriter

/// Stands where `HTTPRequestEncoder` usually does: ``HTTP1ConnectionHandler`` hands it a request already encoded
/// into one buffer (head and body), sent as `.body`, which it writes as is. The `.head` it gets first carries only
/// the method, for `HTTPResponseDecoder` (between the two) to pair the response with; it writes nothing.
final class HTTP1RequestWriter: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = ByteBuffer

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head, .end:
            promise?.succeed(())
        case .body(.byteBuffer(let bytes)):
            context.write(wrapOutboundOut(bytes), promise: promise)
        case .body(.fileRegion):
            promise?.fail(ChannelError.operationUnsupported)
        }
    }
}
