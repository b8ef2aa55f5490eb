import ArgumentParser
import Foundation
import KafkaClient
import Logging
import Relay
import RelayConfig
import ServiceLifecycle

/// `affonso-relay run --config relay.yaml`: the service (docs/configuration.md, docs/affonso.md).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the relay: consume, map, deliver to Affonso, commit after acknowledgement."
    )

    @Option(name: .long, help: "Path to relay.yaml.")
    var config: String

    func run() async throws {
        let (loaded, logger, serviceConfiguration) = try RelayCommandSupport.loadService(config)
        guard let listen = RelayHTTPServer.parseListen(loaded.configuration.server.listen) else {
            RelayCommandSupport.printError(
                "\(config): server.listen '\(loaded.configuration.server.listen)' is not host:port, e.g. 0.0.0.0:9464")
            throw ExitCode(2)
        }
        let renderMetrics = RelayMetrics.bootstrapPrometheus()
        let relay: RelayService
        do {
            relay = try RelayService(
                configuration: serviceConfiguration, rules: loaded.ruleSet, logger: logger)
        } catch {
            RelayCommandSupport.printError("\(config): \(ErrorText.describe(error))")
            throw ExitCode(2)
        }
        let server = RelayHTTPServer.make(
            host: listen.host, port: listen.port,
            isReady: { relay.isReady }, isLive: { relay.isLive }, metrics: renderMetrics, logger: logger)
        // A group shuts its services down in reverse order: the relay drains first while the server still answers
        // (`/readyz` 503 during the drain, `/metrics` to the end), then the server stops.
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: server),
                    .init(service: relay, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}

/// What the service commands share: loading the configuration and setting up logs.
enum RelayCommandSupport {
    /// Loads and compiles `relay.yaml`; prints each problem as `file:line:col: message` and exits 2 on errors.
    static func load(
        _ path: String, purpose: RelayConfigLoader.Purpose = .service
    ) throws -> RelayConfigLoader.Loaded {
        do {
            return try RelayConfigLoader.load(path: path, purpose: purpose)
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw ExitCode(2)
        }
    }

    /// Exits 2 when librdkafka cannot create its clients from the configuration or the key file is unreadable.
    static func checkRuntime(_ loaded: RelayConfigLoader.Loaded, _ path: String, requiresAPIKey: Bool) throws {
        let problems = RelayConfigLoader.checkRuntime(loaded, file: path, requiresAPIKey: requiresAPIKey)
        guard problems.isEmpty else {
            for problem in problems { printError(problem.description) }
            throw ExitCode(2)
        }
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Loads `relay.yaml`, sets up logging and maps the configuration onto the service's types; exits 2 on errors.
    /// - Parameters:
    ///   - path: the configuration file.
    ///   - purpose: `.kafka` for commands that never call Affonso (no API key needed).
    static func loadService(
        _ path: String, purpose: RelayConfigLoader.Purpose = .service
    ) throws -> (RelayConfigLoader.Loaded, Logger, RelayServiceConfiguration) {
        let loaded = try load(path, purpose: purpose)
        try checkRuntime(loaded, path, requiresAPIKey: purpose == .service)
        let logger = bootstrapLogging(loaded.configuration.logging, affonso: loaded.configuration.affonso)
        for warning in loaded.warnings { logger.warning("\(warning.description)") }
        do {
            let service = try loaded.configuration.serviceConfiguration(
                file: path, requiresAPIKey: purpose == .service)
            return (loaded, logger, service)
        } catch {
            for diagnostic in error.diagnostics { printError(diagnostic.description) }
            throw ExitCode(2)
        }
    }

    /// JSON lines (or text) on standard error at the configured level. The configured API key (inline, or the
    /// key file's content at start) is removed from every line, as are `sk_live_…`/`sk_test_…`/`Bearer` tokens.
    static func bootstrapLogging(_ logging: RelayConfiguration.Logging, affonso: RelayConfiguration.Affonso) -> Logger {
        let level = Logger.Level(rawValue: logging.level.rawValue) ?? .info
        var secrets = affonso.apiKey.map { [$0] } ?? []
        if let path = affonso.apiKeyFile, let key = try? String(contentsOfFile: path, encoding: .utf8) {
            secrets.append(key.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let output = LogOutput.standardError(knownSecrets: secrets)
        switch logging.format {
        case .json:
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level, output: output) }
        case .text:
            LoggingSystem.bootstrap { _ in TextLogHandler(level: level, output: output) }
        }
        return Logger(label: "affonso-relay")
    }
}
