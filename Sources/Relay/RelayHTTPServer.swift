import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

// MARK: - RelayHTTPServer

/// The operations endpoints (SPEC.md §8): `/metrics` (Prometheus text), `/livez`, `/readyz`.
public enum RelayHTTPServer {
    /// Builds the server as a `Service` for the relay's `ServiceGroup`.
    /// - Parameters:
    ///   - host: the address to bind, e.g. `0.0.0.0`.
    ///   - port: the port, e.g. 9464.
    ///   - isReady: whether `/readyz` passes.
    ///   - isLive: whether `/livez` passes.
    ///   - metrics: the Prometheus exposition text.
    ///   - logger: the server's logger.
    public static func make(
        host: String,
        port: Int,
        isReady: @escaping @Sendable () -> Bool,
        isLive: @escaping @Sendable () -> Bool = { true },
        metrics: @escaping @Sendable () -> [UInt8],
        logger: Logger
    ) -> some Service {
        let router = Router()
        router.get("/livez") { _, _ -> Response in
            let live = isLive()
            return Response(
                status: live ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: live ? "ok\n" : "failed\n"))
            )
        }
        router.get("/readyz") { _, _ -> Response in
            let ready = isReady()
            return Response(
                status: ready ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: ready ? "ready\n" : "not ready\n"))
            )
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics()))
            )
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "affonso-relay"),
            logger: logger
        )
    }

    /// Splits `host:port` (`server.listen`).
    /// - Returns: `nil` when the text is not `host:port` with a port in 0…65535.
    public static func parseListen(_ listen: String) -> (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
