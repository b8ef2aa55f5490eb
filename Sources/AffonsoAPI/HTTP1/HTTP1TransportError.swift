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
    /// Whether any byte of the response had arrived (a request answered in part was seen by the server).
    var responseStarted = false
    var underlying: (any Error)?

    var description: String {
        underlying.map { "\(message): \($0)" } ?? message
    }

    static func connectionClosed(responseStarted: Bool) -> HTTP1TransportError {
        HTTP1TransportError(
            code: .connectionClosed,
            message: responseStarted
                ? "the server closed the connection in the middle of the response"
                : "the server closed the connection before answering",
            responseStarted: responseStarted
        )
    }
}
