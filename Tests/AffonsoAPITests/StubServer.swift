import Hummingbird
import NIOCore
import Synchronization

/// A one-route HTTP server (`POST /v1/events`) whose answer a test sets; it records the request headers, so a
/// test can check what the client sends and feed it responses the sandbox never gives (HTML 404, redirects,
/// rate-limit headers).
final class StubServer: Sendable {
    struct Reply: Sendable {
        var status: HTTPResponse.Status = .ok
        var headers: HTTPFields = [.contentType: "application/json"]
        var body = #"{"success":true,"data":{}}"#
    }

    private let reply: Mutex<Reply>
    private let received = Mutex<[HTTPFields]>([])

    init(reply: Reply = Reply()) {
        self.reply = Mutex(reply)
    }

    /// The headers of every request received, oldest first.
    var requests: [HTTPFields] { received.withLock { $0 } }

    /// Runs the server on a free loopback port for the duration of `body`.
    func withRunning<Value: Sendable>(_ body: (_ port: Int) async throws -> Value) async throws -> Value {
        let router = Router()
        router.post("/v1/events") { request, _ -> Response in
            self.received.withLock { $0.append(request.headers) }
            let reply = self.reply.withLock { $0 }
            return Response(
                status: reply.status,
                headers: reply.headers,
                body: ResponseBody(byteBuffer: ByteBuffer(string: reply.body))
            )
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            }
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            return try await body(port)
        }
    }
}
