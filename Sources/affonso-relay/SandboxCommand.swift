import AffonsoSandbox
import ArgumentParser
import Foundation
import Logging
import RelayConfig
import ServiceLifecycle

/// `affonso-relay sandbox`: the Affonso API sandbox (`affonso-relay sandbox --help`).
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract:
            "Runs the Affonso API sandbox: POST /v1/events and POST /v1/conversions/{id}/refund with keys, referrals, rate limits and faults.",
        discussion: """
            Control endpoints (no API key): GET /_sandbox/ledger, GET /_sandbox/stats, GET|POST /_sandbox/faults,
            GET|POST /_sandbox/referrals, POST /_sandbox/reset. Durations take ms, s or m (e.g. 50ms, 1.5s, 2m).
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 8787

    @Option(
        help:
            "Seed file of referrals (YAML or JSON list of id, affiliate_id, customer_id, external_user_id, click_id, status)."
    )
    var referrals: String?

    @Option(help: "Rate-limit plan: launch, growth, elite, enterprise or unlimited.")
    var plan = "unlimited"

    @Option(
        name: .customLong("api-key"),
        help: "Accepted key as KEY[:scope,…] (repeatable). Default: sk_test_sandbox with write:commissions."
    )
    var apiKeys: [String] = []

    @Option(help: "Commission rate of affiliates without their own rate in the seed file (0.3 = 30%).")
    var commissionRate = 0.30

    @Option(help: "Largest accepted request body in bytes; larger bodies get 413.")
    var maxBodySize = 64 * 1024

    @Option(help: "Share of requests (0-1) answered 500.")
    var errorRate = 0.0

    @Option(help: "Share of requests (0-1) held for --timeout-hold, then answered 504.")
    var timeoutRate = 0.0

    @Option(help: "How long a timed-out request is held.")
    var timeoutHold = SandboxDurationArgument(.seconds(30))

    @Option(help: "Mean added latency per request.")
    var latency = SandboxDurationArgument(.zero)

    @Option(help: "Added latency varies uniformly within ± this.")
    var latencyJitter = SandboxDurationArgument(.zero)

    @Option(help: "Answer the first N requests 429.")
    var rateLimitNext = 0

    @Option(help: "Answer every request 429 for this long after start.")
    var rateLimitFor: SandboxDurationArgument?

    @Option(help: "Retry-After of the 429s from --rate-limit-next.")
    var rateLimitRetryAfter = SandboxDurationArgument(.seconds(1))

    @Option(help: "Start an outage (every request 503) this long after start.")
    var outageAfter: SandboxDurationArgument?

    @Option(help: "Length of the outage.")
    var outageFor: SandboxDurationArgument?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        let configuration: SandboxConfiguration
        do {
            configuration = try self.makeConfiguration()
        } catch {
            Self.exit(withMessage: error.message)
        }
        var logger = Logger(label: "affonso-relay.sandbox")
        logger.logLevel = Logger.Level(rawValue: self.logLevel) ?? .info
        let server: AffonsoSandboxServer
        do {
            server = try AffonsoSandboxServer(configuration: configuration, logger: logger)
        } catch {
            Self.exit(withMessage: error.message)
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [server],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                guard let port = try? await server.waitUntilListening() else { return }
                let line =
                    "affonso sandbox listening on http://\(configuration.host):\(port) "
                    + "(plan \(configuration.plan), \(configuration.referrals.count) referrals, "
                    + "\(configuration.apiKeys.count) API key(s))\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
            try await tasks.waitForAll()
        }
    }

    private func makeConfiguration() throws(SandboxError) -> SandboxConfiguration {
        var configuration = SandboxConfiguration()
        configuration.host = self.host
        guard (0...65_535).contains(self.port) else {
            throw SandboxError(.invalidConfiguration, "--port \(self.port): must be 0…65535")
        }
        configuration.port = self.port
        guard let plan = SandboxPlan.named(self.plan) else {
            throw SandboxError(
                .invalidConfiguration,
                "--plan \(self.plan): unknown plan; use one of \(SandboxPlan.all.map(\.name).joined(separator: ", "))"
            )
        }
        configuration.plan = plan
        if !self.apiKeys.isEmpty {
            configuration.apiKeys = []
            for specification in self.apiKeys {
                configuration.apiKeys.append(try SandboxAPIKey(parsing: specification))
            }
        }
        guard (0...1).contains(self.commissionRate) else {
            throw SandboxError(
                .invalidConfiguration, "--commission-rate \(self.commissionRate): must be 0…1 (0.3 = 30%)")
        }
        configuration.defaultCommissionRate = self.commissionRate
        guard self.maxBodySize > 0 else {
            throw SandboxError(.invalidConfiguration, "--max-body-size \(self.maxBodySize): must be positive")
        }
        configuration.maximumBodySize = self.maxBodySize
        if let path = self.referrals {
            let seed = try SandboxSeed.load(path: path)
            configuration.referrals = seed.referrals
            configuration.commissionRates = seed.commissionRates
        }
        for (name, rate) in [("--error-rate", self.errorRate), ("--timeout-rate", self.timeoutRate)]
        where !(0...1).contains(rate) {
            throw SandboxError(.invalidConfiguration, "\(name) \(rate): must be a share from 0 to 1 (0.05 = 5%)")
        }
        guard self.rateLimitNext >= 0 else {
            throw SandboxError(.invalidConfiguration, "--rate-limit-next \(self.rateLimitNext): must be 0 or more")
        }
        if (self.outageAfter != nil) && self.outageFor == nil {
            throw SandboxError(.invalidConfiguration, "--outage-after needs --outage-for (how long the outage lasts)")
        }
        var faults = SandboxFaults()
        faults.errorRate = self.errorRate
        faults.timeoutRate = self.timeoutRate
        faults.timeoutHold = self.timeoutHold.duration
        faults.latency = self.latency.duration
        faults.latencyJitter = self.latencyJitter.duration
        faults.rateLimitNext = self.rateLimitNext
        faults.rateLimitFor = self.rateLimitFor?.duration
        faults.rateLimitRetryAfter = self.rateLimitRetryAfter.duration
        faults.outageAfter = self.outageAfter?.duration
        faults.outageFor = self.outageFor?.duration
        configuration.faults = faults
        return configuration
    }

    private static func exit(withMessage message: String) -> Never {
        FileHandle.standardError.write(Data("affonso-relay sandbox: \(message)\n".utf8))
        Foundation.exit(2)
    }
}

/// A duration flag such as `50ms`, `1.5s` or `2m`, written as relay.yaml writes durations (at most 10 years; a value
/// such as `1e30s` is refused, not trapped on).
struct SandboxDurationArgument: ExpressibleByArgument, Sendable {
    var duration: Duration

    init(_ duration: Duration) {
        self.duration = duration
    }

    init?(argument: String) {
        guard let duration = RelayConfigLoader.duration(argument) else { return nil }
        self.duration = duration
    }

    var defaultValueDescription: String {
        let (seconds, attoseconds) = self.duration.components
        if attoseconds == 0 { return "\(seconds)s" }
        return "\(Int64(Double(seconds) * 1000 + Double(attoseconds) / 1e15))ms"
    }
}
