import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `affonso-relay run` as a user starts it, for tests that watch it while it runs: its standard error (the log) in a
/// file that the test reads as it grows, real signals, and the instant it exited.
final class LiveRelay: Sendable {
    let logPath: String
    private let process: Process
    private let exitedAt = ExitInstant()

    /// Writes `yaml` as `relay.yaml` in `directory` and starts `run --config` on it.
    init(yaml: String, directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("relay.yaml").path
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        logPath = directory.appendingPathComponent("relay.log").path
        guard FileManager.default.createFile(atPath: logPath, contents: nil),
            let log = FileHandle(forWritingAtPath: logPath)
        else { throw TestFailure("cannot create \(logPath)") }
        process = Process()
        process.executableURL = URL(fileURLWithPath: relayBinary)
        process.arguments = ["run", "--config", config]
        process.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        process.terminationHandler = { [exitedAt] _ in exitedAt.record() }
        try process.run()
    }

    /// The lines logged so far.
    var lines: [Substring] {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n")
    }

    /// Waits (polling on a thread of its own, never the cooperative pool) until a logged line contains `text`.
    /// - Returns: whether one did within `timeout`.
    func waitForLine(containing text: String, timeout: Duration = .seconds(60)) async -> Bool {
        await poll(timeout: timeout) { self.lines.contains { $0.contains(text) } }
    }

    /// Sends `signal` now; returns the instant it was sent.
    func signal(_ signal: Int32) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        _ = Glibc.kill(process.processIdentifier, signal)
        return now
    }

    /// Waits up to `timeout` for the process to exit: when it exited and its status, or nil.
    func waitForExit(timeout: Duration = .seconds(60)) async -> (at: ContinuousClock.Instant, status: Int32)? {
        guard await poll(timeout: timeout, { self.exitedAt.instant != nil }) else { return nil }
        process.waitUntilExit()
        return exitedAt.instant.map { ($0, process.terminationStatus) }
    }

    /// Ends the process if it still runs (a test that failed half way).
    func kill() {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    private func poll(timeout: Duration, _ condition: @escaping @Sendable () -> Bool) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let deadline = ContinuousClock.now + timeout
                while !condition() {
                    guard ContinuousClock.now < deadline else { return continuation.resume(returning: false) }
                    Thread.sleep(forTimeInterval: 0.01)
                }
                continuation.resume(returning: true)
            }
        }
    }
}

/// When the process exited (set by its termination handler).
private final class ExitInstant: Sendable {
    private let storage = Mutex<ContinuousClock.Instant?>(nil)
    var instant: ContinuousClock.Instant? { storage.withLock { $0 } }
    func record() { storage.withLock { $0 = ContinuousClock.now } }
}

/// A loopback TCP port that accepts connections (the kernel completes them) and never answers: a broker that hangs.
final class SilentListener: Sendable {
    let port: Int
    private let socket: Int32

    init() throws { (socket, port) = try loopbackSocket(listening: true) }

    deinit { close(socket) }
}

/// A loopback TCP port bound by a socket that never listens: every connection is refused at once, as by a broker
/// that is down, and no other socket can take the port while this one lives.
final class RefusingPort: Sendable {
    let port: Int
    private let socket: Int32

    init() throws { (socket, port) = try loopbackSocket(listening: false) }

    deinit { close(socket) }
}

/// A socket bound to a free loopback port, listening or not, and the port.
private func loopbackSocket(listening: Bool) throws -> (socket: Int32, port: Int) {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let isBound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(socket, pointer, length) == 0 && (!listening || listen(socket, 64) == 0)
                && getsockname(socket, pointer, &length) == 0
        }
    }
    guard socket >= 0, isBound else {
        if socket >= 0 { close(socket) }
        throw TestFailure("could not \(listening ? "listen on" : "bind") a loopback port")
    }
    return (socket, Int(UInt16(bigEndian: address.sin_port)))
}
