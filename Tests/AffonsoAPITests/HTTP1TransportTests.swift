import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import AffonsoAPI

/// ``HTTP1Transport`` against a raw TCP server that answers each request with scripted bytes, so a test can give
/// the answers a well-behaved server rarely does: `Connection: close`, chunked bodies, no answer, closing an idle
/// kept-alive connection.
@Suite("HTTP1Transport")
struct HTTP1TransportTests {
    /// The deadline of requests that must succeed: long, so that a loaded machine (other suites run in parallel on
    /// two cores) cannot turn a slow answer into a failure; the timeout test uses its own short one.
    static let generous = TimeAmount.seconds(60)

    static let ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"success\":true}"

    @Test("sequential requests reuse one kept-alive connection, one write per request")
    func keepAlive() async throws {
        try await RawServer.withRunning(answer: { _ in .reply(Self.ok) }) { server, transport in
            for _ in 0..<20 {
                let response = try await transport.post(
                    body: Array("{}".utf8), apiKey: "k", deadline: .now() + Self.generous)
                #expect(response.status == 200)
                #expect(String(buffer: response.body) == #"{"success":true}"#)
            }
            #expect(server.connections == 1)
            #expect(server.requests.count == 20)
            let first = try #require(server.requests.first)
            #expect(first.hasPrefix("POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:"))
            #expect(first.contains("\r\nAuthorization: Bearer k\r\nContent-Length: 2\r\n\r\n{}"))
        }
    }

    @Test("Connection: close is honoured, and a chunked body is read whole")
    func connectionCloseAndChunked() async throws {
        let close =
            "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}"
        let chunked =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"suc\r\nb\r\ncess\":true}\r\n0\r\n\r\n"
        try await RawServer.withRunning(answer: { index in .reply(index == 0 ? close : chunked, close: index == 0) }) {
            server, transport in
            let first = try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
            #expect(first.status == 503)
            #expect(first.headers.first(name: "Retry-After") == "7")
            #expect(!first.isKeepAlive)
            let second = try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
            #expect(second.status == 200)
            #expect(String(buffer: second.body) == #"{"success":true}"#)
            #expect(server.connections == 2)
        }
    }

    @Test("a kept-alive connection the server closed while idle is replaced without failing the request")
    func staleConnection() async throws {
        try await RawServer.withRunning(answer: { _ in .reply(Self.ok) }) { server, transport in
            _ = try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
            server.closeAll()
            try await Task.sleep(for: .milliseconds(100))
            let response = try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
            #expect(response.status == 200)
            #expect(server.connections == 2)
        }
    }

    @Test("a connection idle longer than the idle timeout is closed and replaced; a fresh one is reused")
    func idleTimeout() async throws {
        let idleTimeout = Duration.milliseconds(200)
        try await RawServer.withRunning(idleTimeout: idleTimeout, answer: { _ in .reply(Self.ok) }) {
            server, transport in
            let start = ContinuousClock.now
            _ = try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
            _ = try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
            let reusedAtOnce = server.connections
            // The first connection went idle after `start` and the second request took one before now: when that
            // is less than the idle timeout, it must have reused the first. A loaded machine may take longer, and
            // then the connection may have idled out already: this run proves less, never a false failure.
            if start.duration(to: .now) < idleTimeout {
                #expect(reusedAtOnce == 1, "a connection idle for less than the idle timeout was not reused")
            }
            // The second connection went idle before its request returned: after this sleep it has idled longer
            // than the timeout, however late the third request then leases one.
            try await Task.sleep(for: idleTimeout * 2.5)
            let response = try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
            #expect(response.status == 200)
            #expect(server.connections == reusedAtOnce + 1, "an idled-out connection was reused")
            #expect(server.requests.count == 3)
        }
    }

    @Test("no answer before the deadline is a timeout, and the connection is not reused")
    func timeout() async throws {
        try await RawServer.withRunning(answer: { index in index == 0 ? .silence : .reply(Self.ok) }) {
            server, transport in
            let error = await #expect(throws: HTTP1TransportError.self) {
                try await transport.post(body: [], apiKey: "k", deadline: .now() + .milliseconds(200))
            }
            #expect(error?.code == .timeout)
            let response = try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
            #expect(response.status == 200)
            #expect(server.connections == 2)
        }
    }

    @Test("more concurrent requests than connections wait for one; never more than the limit are opened")
    func poolLimit() async throws {
        try await RawServer.withRunning(maximumConnections: 3, answer: { _ in .reply(Self.ok) }) {
            server, transport in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous).status
                    }
                }
                for try await status in group { #expect(status == 200) }
            }
            #expect(server.connections <= 3)
            #expect(server.requests.count == 40)
        }
    }

    @Test("nothing listening fails fast with an I/O error")
    func refused() async throws {
        let port = try await RawServer.unusedPort()
        let transport = try HTTP1Transport(
            url: "http://127.0.0.1:\(port)/v1/events", maximumConnections: 2, connectTimeout: .seconds(2),
            userAgent: "test", maximumResponseBytes: 1024)
        defer { transport.shutdown() }
        let error = await #expect(throws: HTTP1TransportError.self) {
            try await transport.post(body: [], apiKey: "k", deadline: .now() + Self.generous)
        }
        #expect(error?.code == .io)
    }
}

// MARK: - RawServer

/// A loopback TCP server that reads HTTP/1.1 requests (head and `Content-Length` body) and answers each with what
/// `answer` returns for its index (counted over all connections).
final class RawServer: Sendable {
    enum Answer: Sendable {
        case reply(String, close: Bool = false)
        case silence
    }

    private struct State {
        var connections = 0
        var requests: [String] = []
        var channels: [any Channel] = []
    }

    private let state = Mutex(State())
    private let answer: @Sendable (Int) -> Answer
    /// The servers' and their transports' own event loop: other suites running beside these (the sandbox's
    /// hostile-input tests parse megabytes on the shared loops) must not delay an answer a test times.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    private init(answer: @escaping @Sendable (Int) -> Answer) {
        self.answer = answer
    }

    var connections: Int { state.withLock { $0.connections } }
    var requests: [String] { state.withLock { $0.requests } }

    func closeAll() {
        state.withLock { $0.channels }.forEach { $0.close(promise: nil) }
    }

    static func unusedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 1
        try await channel.close()
        return port
    }

    static func withRunning(
        maximumConnections: Int = 8,
        idleTimeout: Duration = .seconds(60),
        answer: @escaping @Sendable (Int) -> Answer,
        _ body: (RawServer, HTTP1Transport) async throws -> Void
    ) async throws {
        try await withListening(answer: answer) { server, port in
            let transport = try HTTP1Transport(
                url: "http://127.0.0.1:\(port)/v1/events", maximumConnections: maximumConnections,
                connectTimeout: .seconds(2), userAgent: "test", maximumResponseBytes: 1 << 20,
                idleTimeout: idleTimeout, group: Self.group)
            do {
                try await body(server, transport)
            } catch {
                transport.shutdown()
                throw error
            }
            transport.shutdown()
        }
    }

    /// Runs the server on a free loopback port for the duration of `body`, for clients of any kind.
    static func withListening(
        answer: @escaping @Sendable (Int) -> Answer,
        _ body: (RawServer, _ port: Int) async throws -> Void
    ) async throws {
        let server = RawServer(answer: answer)
        let listener = try await ServerBootstrap(group: Self.group)
            .childChannelInitializer { channel in
                server.state.withLock {
                    $0.connections += 1
                    $0.channels.append(channel)
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RequestReader(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        do {
            try await body(server, port)
        } catch {
            server.closeAll()
            try? await listener.close()
            throw error
        }
        server.closeAll()
        try await listener.close()
    }

    /// The answer to the next request, and records it.
    fileprivate func received(_ request: String) -> Answer {
        let index = state.withLock { state in
            state.requests.append(request)
            return state.requests.count - 1
        }
        return answer(index)
    }

    private final class RequestReader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let server: RawServer
        var buffered = ""

        init(server: RawServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            buffered += String(buffer: unwrapInboundIn(data))
            while let end = buffered.range(of: "\r\n\r\n") {
                let head = buffered[..<end.lowerBound]
                let length =
                    head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                let bodyStart = buffered.utf8.distance(from: buffered.startIndex, to: end.upperBound)
                guard buffered.utf8.count >= bodyStart + length else { return }
                let request = String(buffered.utf8.prefix(bodyStart + length))!
                buffered = String(buffered.utf8.dropFirst(bodyStart + length))!
                switch server.received(request) {
                case .reply(let text, let close):
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
                    if close { context.close(promise: nil) }
                case .silence:
                    break
                }
            }
        }
    }
}
