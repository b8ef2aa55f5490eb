import NIOCore
import NIOHTTP1

// MARK: - HTTP1Response

/// One complete response of ``HTTP1Transport``: status, headers and the body up to the configured limit.
struct HTTP1Response: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// Whether the connection may carry another request (HTTP/1.1 without `Connection: close`).
    var isKeepAlive: Bool
}
