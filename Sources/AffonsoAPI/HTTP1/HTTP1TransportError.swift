// MARK: - HTTP1TransportError

/// Why ``HTTP1Transport`` got no complete response. ``AffonsoClient`` maps it to an ``AffonsoError`` of class
/// `timeout` or `connection`.
struct HTTP1TransportError: Error, CustomStringConvertible {
    struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connectTimeout, timeout, connectionClosed, io, shutdown
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No connection within the connect timeout.
        static let connectTimeout = Code(.connectTimeout)
        /// No complete response before the request's deadline.
        static let timeout = Code(.timeout)
        /// The connection closed before the response was complete.
        static let connectionClosed = Code(.connectionClosed)
        /// A socket, TLS or HTTP parsing error (see ``HTTP1TransportError/underlying``).
        static let io = Code(.io)
        /// The transport was shut down.
        static let shutdown = Code(.shutdown)

        var description: String {
            switch base {
            case .connectTimeout: "connect timeout"
            case .timeout: "timeout"
            case .connectionClosed: "connection closed"
            case .io: "I/O error"
            case .shutdown: "shut down"
            }
        }
    }

    var code: Code
    var message: String
    /// The status of the response head when it had arrived before the failure: the server saw the request and
    /// answered it, only its body was cut off (closed, reset, or stalled past the deadline).
    var responseStatus: Int?
    var underlying: (any Error)?

    /// Whether the response head had arrived (a request answered in part was seen by the server).
    var responseStarted: Bool { responseStatus != nil }

    /// Whether the server answered 2xx and the body could not be read: the request succeeded, only its answer's
    /// details are lost. Sending it again is a second request, safe only where the API deduplicates it.
    var isUnreadableSuccess: Bool { responseStatus.map { (200..<300).contains($0) } ?? false }

    var description: String {
        underlying.map { "\(message): \($0)" } ?? message
    }

    static func connectionClosed(responseStatus: Int?) -> HTTP1TransportError {
        HTTP1TransportError(
            code: .connectionClosed,
            message: responseStatus.map {
                "the server closed the connection in the middle of the response (HTTP \($0) head received)"
            } ?? "the server closed the connection before answering",
            responseStatus: responseStatus
        )
    }
}
