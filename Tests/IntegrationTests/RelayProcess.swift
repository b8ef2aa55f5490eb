import AsyncHTTPClient
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `affonso-relay` as users run it: the built binary in its own process, with its relay.yaml on disk, its
/// health and metrics on a local port, its log lines captured in a file, and real signals.
final class RelayProcess: Sendable {
    /// The package's root directory (where `.build` and `.tools` are).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The binary `swift build` put beside the tests.
    static let binary: String = {
        let debug = packageRoot + "/.build/debug/affonso-relay"
        return FileManager.default.isExecutableFile(atPath: debug)
            ? debug : packageRoot + "/.build/release/affonso-relay"
    }()

    let port: Int
    let logPath: String
    let configPath: String
    private let process: Mutex<Process>

    /// Starts `affonso-relay run --config <file>` with `configuration` (relay.yaml text; the server listens
    /// on `port`). Its standard error (the JSON log) goes to a file.
    init(configuration: (_ listen: String) -> String, port: Int = freeTCPPort()) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("process"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.port = port
        configPath = directory.appendingPathComponent("relay.yaml").path
        logPath = directory.appendingPathComponent("relay.log").path
        try configuration("127.0.0.1:\(port)").write(toFile: configPath, atomically: true, encoding: .utf8)
        process = Mutex(try Self.launch(["run", "--config", configPath], log: logPath))
    }

    private static func launch(_ arguments: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = try writing(log + ".out")
        process.standardError = try writing(log)
        try process.run()
        return process
    }

    var pid: Int32 { process.withLock { $0.processIdentifier } }
    var isRunning: Bool { process.withLock { $0.isRunning } }

    /// What the relay logged so far (JSON lines).
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// What the relay wrote to standard output so far.
    var output: String { (try? String(contentsOfFile: logPath + ".out", encoding: .utf8)) ?? "" }

    /// How many log lines so far contain `text`.
    func occurrences(of text: String) -> Int {
        log.split(separator: "\n").count { $0.contains(text) }
    }

    /// Sends a real signal (`SIGTERM`, `SIGKILL`, …) to the process, unless it already exited.
    func signal(_ signal: Int32) {
        guard isRunning else { return }
        _ = Glibc.kill(pid, signal)
    }

    /// Waits until the process exits; its exit status, or nil when it still runs after `timeout`.
    func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        let exited = await kafkaEventually(timeout: timeout) { !self.isRunning }
        guard exited else { return nil }
        return process.withLock { $0.terminationStatus }
    }

    /// Stops the process if it still runs (SIGKILL), e.g. when a test failed half way.
    func kill() async {
        if isRunning {
            signal(SIGKILL)
            _ = await waitForExit(timeout: .seconds(10))
        }
    }

    /// `GET http://127.0.0.1:<port><path>` over a real socket: status and body, nil when nothing answers.
    func get(_ path: String) async -> (status: UInt, body: String)? {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .GET
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)),
            let body = try? await response.body.collect(upTo: 16 << 20)
        else { return nil }
        return (response.status.code, String(buffer: body))
    }

    /// Waits until `/readyz` answers `ready` (true) or not (false).
    func waitForReadiness(_ ready: Bool, timeout: Duration = .seconds(60)) async -> Bool {
        await kafkaEventually(timeout: timeout) {
            await self.get("/readyz").map { ($0.status == 200) == ready } ?? false
        }
    }

    /// Runs another `affonso-relay` command to its end (e.g. `dlq replay --config …`): exit status and output.
    static func command(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let run = try await measuredCommand(arguments)
        return (run.status, run.output)
    }

    /// ``command(_:)`` that also samples the command's peak resident memory (`VmHWM`, MiB) while it runs.
    static func measuredCommand(
        _ arguments: [String]
    ) async throws -> (status: Int32, output: String, peakMebibytes: Int) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("command")).path
        let process = try launch(arguments, log: log)
        let pid = process.processIdentifier
        let peak = Mutex(0)
        let done = await kafkaEventually(timeout: .seconds(180)) {
            if let now = RelayMemoryTests.peakResidentMebibytes(pid) { peak.withLock { $0 = max($0, now) } }
            return !process.isRunning
        }
        if !done { process.terminate() }
        let output = [log + ".out", log].compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
        return (done ? process.terminationStatus : -1, output.joined(separator: "\n"), peak.withLock { $0 })
    }
}

/// A TCP port nothing listens on right now.
func freeTCPPort() -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            _ = bind(socket, pointer, length)
            return getsockname(socket, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A new empty file, open for writing.
private func writing(_ path: String) throws -> FileHandle {
    guard FileManager.default.createFile(atPath: path, contents: nil),
        let handle = FileHandle(forWritingAtPath: path)
    else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    return handle
}
