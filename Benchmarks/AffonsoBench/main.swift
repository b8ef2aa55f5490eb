// AffonsoBench: requests/s of AffonsoClient against the sandbox, to compare with wrk on the same sandbox.
//
//   AffonsoBench serve [--port P]
//       runs the sandbox (plan unlimited, key sk_test_sandbox, referral ref_1 = cus_1) until killed
//   AffonsoBench client --url URL [--concurrency 64] [--duration 10] [--warmup 2]
//       sends unique conversions with AffonsoClient (plan unlimited) and prints "client_rps N"
//
// scripts/bench.d/40-affonso-client runs both plus wrk and prints the ratio; see docs/benchmarks.md.

import AffonsoAPI
import AffonsoSandbox
import Foundation
import Logging
import Synchronization

func option(_ name: String, default value: String) -> String {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return value }
    return arguments[index + 1]
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("AffonsoBench: \(message)\n".utf8))
    exit(2)
}

/// A realistic conversion body (what a Stripe `invoice.paid` rule produces), unique per request.
func conversionBody(_ id: String) -> [UInt8] {
    Array(
        """
        {"event_name":"invoice_paid","event_type":"conversion","customer_id":"cus_1",\
        "external_event_id":"\(id)","occurred_at":"2026-11-25T10:00:00Z","sale_amount":99.0,\
        "sale_amount_currency":"USD","price_ids":["price_1PzX2bKq","price_1PzX3cKq"],"interval":"monthly",\
        "is_subscription":true,"metadata":{"stripe_invoice":"in_\(id)","stripe_subscription":"sub_1QbT9r"}}
        """.utf8
    )
}

/// Outcomes counted from every worker.
final class Counters: Sendable {
    private let state = Mutex<(delivered: Int, failures: [String: Int])>((0, [:]))

    func count(_ outcome: AffonsoOutcome) {
        state.withLock { state in
            if let errorClass = outcome.errorClass {
                state.failures[errorClass.rawValue, default: 0] += 1
            } else {
                state.delivered += 1
            }
        }
    }

    var snapshot: (delivered: Int, failures: [String: Int]) { state.withLock { $0 } }
}

func serve() async throws {
    var configuration = SandboxConfiguration()
    configuration.port = Int(option("--port", default: "0")) ?? 0
    configuration.plan = .unlimited
    configuration.referrals = [SandboxReferral(id: "ref_1", affiliateID: "aff_1", customerID: "cus_1")]
    LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
    let server = try AffonsoSandboxServer(configuration: configuration)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let port = try await server.waitUntilListening()
        FileHandle.standardOutput.write(Data("listening \(port)\n".utf8))
        try await group.next()
    }
}

func client() async throws {
    let url = option("--url", default: "")
    guard !url.isEmpty else { fail("client needs --url http://127.0.0.1:PORT") }
    let concurrency = Int(option("--concurrency", default: "64")) ?? 64
    let duration = Duration.seconds(Double(option("--duration", default: "10")) ?? 10)
    let warmup = Duration.seconds(Double(option("--warmup", default: "2")) ?? 2)

    var configuration = AffonsoClientConfiguration(credentials: .apiKey("sk_test_sandbox"))
    configuration.baseURL = url
    configuration.plan = .unlimited
    configuration.maximumConnections = concurrency
    let client = try AffonsoClient(configuration: configuration)

    let clock = ContinuousClock()
    let start = clock.now
    let measureFrom = start + warmup
    let end = measureFrom + duration
    let counters = Counters()
    let run = UUID().uuidString.prefix(8)

    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                var sequence = 0
                while true {
                    let now = clock.now
                    if now >= end { return }
                    sequence += 1
                    let outcome = try await client.send(body: conversionBody("bench_\(run)_\(worker)_\(sequence)"))
                    guard now >= measureFrom else { continue }
                    counters.count(outcome)
                }
            }
        }
        try await group.waitForAll()
    }
    try await client.shutdown()

    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    let (delivered, failures) = counters.snapshot
    let failed = failures.values.reduce(0, +)
    let total = delivered + failed
    print("client_requests \(total)")
    print("client_failed \(failed) \(failures)")
    print(String(format: "client_rps %.0f", Double(total) / seconds))
}

switch CommandLine.arguments.dropFirst().first {
case "serve": try await serve()
case "client": try await client()
default: fail("usage: AffonsoBench serve [--port P] | client --url URL [--concurrency N] [--duration S]")
}
