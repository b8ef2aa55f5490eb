import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

// MARK: - HTTP1Transport

/// A small HTTP/1.1 client for one endpoint, `POST` only: what ``AffonsoClient`` sends events with.
///
/// - A keep-alive pool of up to `maximumConnections` connections (the relay's `max_in_flight`), idle ones closed
///   after 60 s; a request that finds its reused connection closed by the server before any answer is sent once
///   more on a new one (the API deduplicates by `external_event_id`).
/// - The request head is encoded once (request line, `Host`, `Content-Type`, `Accept`, `User-Agent`); per request
///   only `Authorization` (the key can rotate) and `Content-Length` are added, and head and body go out in one
///   buffer with one write.
/// - Responses are read by ``HTTP1ResponseParser`` (status, framing and the headers the client reads); the body is
///   kept up to `maximumResponseBytes`.
/// - Connect timeout and a deadline per request; TLS with certificate verification (NIOSSL, system roots) for
///   `https://`, TCP_NODELAY (ClientBootstrap's default).
final class HTTP1Transport: Sendable {
    struct Endpoint: Sendable, Hashable {
        var host: String
        var port: Int
        var path: String
        var isTLS: Bool
    }

    let endpoint: Endpoint
    /// One executor per event loop of the group: senders running on one use that loop's connections.
    let executors: [EventLoopTaskExecutor]
    private let group: any EventLoopGroup
    private let sslContext: NIOSSLContext?
    private let pool: HTTP1ConnectionPool
    private let connectTimeout: TimeAmount
    private let maximumResponseBytes: Int
    /// `POST <path> HTTP/1.1` and the fixed headers, each line ending in CRLF.
    private let requestPrefix: [UInt8]
    /// ` HTTP/1.1` and the fixed headers, for requests to another path than the endpoint's.
    private let requestLineTail: [UInt8]

    /// - Parameters:
    ///   - url: the endpoint, `http://` or `https://` (already validated by ``AffonsoClient``).
    ///   - idleTimeout: how long a kept-alive connection may idle before it is closed instead of reused.
    /// - Throws: ``HTTP1TransportError`` with code `io` when the URL cannot be used or TLS cannot be set up.
    init(
        url: String,
        maximumConnections: Int,
        connectTimeout: Duration,
        userAgent: String,
        maximumResponseBytes: Int,
        idleTimeout: Duration = .seconds(60),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(HTTP1TransportError) {
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(),
            let host = parsed.host, !host.isEmpty, scheme == "http" || scheme == "https"
        else {
            throw HTTP1TransportError(code: .io, message: "'\(url)' is not an http(s) URL")
        }
        let isTLS = scheme == "https"
        let port = parsed.port ?? (isTLS ? 443 : 80)
        var path = parsed.percentEncodedPath.isEmpty ? "/" : parsed.percentEncodedPath
        if let query = parsed.percentEncodedQuery { path += "?" + query }
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.endpoint = Endpoint(host: bareHost, port: port, path: path, isTLS: isTLS)
        self.group = group
        self.executors = group.makeIterator().map(EventLoopTaskExecutor.init)
        self.pool = HTTP1ConnectionPool(maximumConnections: maximumConnections, idleTimeout: idleTimeout)
        self.connectTimeout = TimeAmount(connectTimeout)
        self.maximumResponseBytes = maximumResponseBytes
        if isTLS {
            do {
                self.sslContext = try NIOSSLContext(configuration: .makeClientConfiguration())
            } catch {
                throw HTTP1TransportError(code: .io, message: "cannot set up TLS", underlying: error)
            }
        } else {
            self.sslContext = nil
        }
        let hostHeader = bareHost.contains(":") ? "[\(bareHost)]" : bareHost
        let defaultPort = isTLS ? 443 : 80
        let authority = port == defaultPort ? hostHeader : "\(hostHeader):\(port)"
        let tail =
            " HTTP/1.1\r\nHost: \(authority)\r\nContent-Type: application/json\r\n"
            + "Accept: application/json\r\nUser-Agent: \(userAgent)\r\n"
        self.requestLineTail = Array(tail.utf8)
        self.requestPrefix = Array("POST \(path)".utf8) + self.requestLineTail
    }

    /// Closes every connection; requests in flight fail, later ones fail with code `shutdown`.
    func shutdown() {
        pool.shutdown()
    }

    // MARK: - Requests

    /// Posts `body` with `Authorization: Bearer <apiKey>` to the endpoint's path, or to `path` on the same host.
    ///
    /// - Parameter path: an absolute path, already percent-encoded (only bytes `!`…`~` are allowed, so nothing
    ///   can break the request line); `nil` for the endpoint's own.
    /// - Throws: ``HTTP1TransportError``, or `CancellationError` when the task is cancelled while waiting for a
    ///   connection (a cancelled request fails with `connectionClosed`).
    func post(path: String? = nil, body: [UInt8], apiKey: String, deadline: NIODeadline) async throws -> HTTP1Response {
        var request = ByteBufferAllocator().buffer(
            capacity: requestPrefix.count + (path?.utf8.count ?? 0) + apiKey.utf8.count + 64 + body.count)
        if let path {
            guard path.hasPrefix("/"), path.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                throw HTTP1TransportError(
                    code: .io, message: "request path is not an absolute, percent-encoded path")
            }
            request.writeStaticString("POST ")
            request.writeString(path)
            request.writeBytes(requestLineTail)
        } else {
            request.writeBytes(requestPrefix)
        }
        request.writeStaticString("Authorization: Bearer ")
        request.writeString(apiKey)
        request.writeStaticString("\r\nContent-Length: ")
        request.writeString(String(body.count))
        request.writeStaticString("\r\n\r\n")
        request.writeBytes(body)

        var retried = false
        while true {
            let (connection, reused) = try await leaseConnection()
            do {
                let response = try await withTaskCancellationHandler {
                    try await connection.execute(request, deadline: deadline)
                } onCancel: {
                    connection.cancel()
                }
                pool.release(connection, reusable: response.isKeepAlive)
                return response
            } catch let error as HTTP1TransportError {
                pool.release(connection, reusable: false)
                // A kept-alive connection the server closed meanwhile: the request never reached it.
                if reused && !retried && (error.code == .connectionClosed || error.code == .io)
                    && !error.responseStarted
                    && !Task.isCancelled && NIODeadline.now() < deadline
                {
                    retried = true
                    continue
                }
                throw error
            } catch {
                pool.release(connection, reusable: false)
                throw error
            }
        }
    }

    /// A connection from the pool (`reused`) or a new one.
    /// A sender running on one of the group's event loops gets a connection of that loop.
    private func leaseConnection() async throws -> (HTTP1Connection, reused: Bool) {
        let loop = MultiThreadedEventLoopGroup.currentEventLoop.flatMap { current in
            executors.contains { $0.eventLoop === current } ? current : nil
        }
        switch try await pool.lease(on: loop) {
        case .connection(let connection):
            return (connection, true)
        case .connect:
            do {
                let connection = try await connect(on: loop)
                return (connection, false)
            } catch {
                pool.connectFailed()
                throw error
            }
        }
    }

    private func connect(on loop: (any EventLoop)?) async throws -> HTTP1Connection {
        let sslContext = self.sslContext
        let serverHostname = endpoint.isTLS && !Self.isIPAddress(endpoint.host) ? endpoint.host : nil
        let maximumBodyBytes = maximumResponseBytes
        let bootstrap = ClientBootstrap(group: loop ?? group)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(
                            NIOSSLClientHandler(context: sslContext, serverHostname: serverHostname))
                    }
                    try pipeline.addHandler(HTTP1ConnectionHandler(maximumBodyBytes: maximumBodyBytes))
                }
            }
        let connection: HTTP1Connection
        do {
            connection = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).flatMapThrowing {
                channel in
                let handler = try channel.pipeline.syncOperations.handler(type: HTTP1ConnectionHandler.self)
                return HTTP1Connection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
            }.get()
        } catch ChannelError.connectTimeout(let amount) {
            throw HTTP1TransportError(
                code: .connectTimeout,
                message: "no connection to \(endpoint.host):\(endpoint.port) within \(amount)"
            )
        } catch {
            throw HTTP1TransportError(
                code: .io,
                message: "cannot connect to \(endpoint.host):\(endpoint.port)",
                underlying: error
            )
        }
        let pool = self.pool
        guard pool.opened(connection) else {
            connection.close()
            throw HTTP1TransportError(code: .shutdown, message: "the client was shut down")
        }
        connection.channel.closeFuture.whenComplete { _ in pool.closed(connection) }
        return connection
    }

    private static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
    }
}
