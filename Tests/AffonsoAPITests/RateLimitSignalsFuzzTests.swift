import Foundation
import SeededRandom
import Testing

@testable import AffonsoAPI

/// A seeded fuzz run over the values a response can carry: random strings, huge and tiny numbers, non-ASCII,
/// `inf`/`nan`, `Int64.max`, HTTP-dates of any year. Nothing traps and every wait stays within the cap.
@Suite("Rate-limit signals fuzz")
struct RateLimitSignalsFuzzTests {
    typealias SeededGenerator = SplitMix64

    static let specials = [
        "inf", "-inf", "+inf", "Infinity", "nan", "NaN", "-nan", "1e30", "1e308", "1e309", "1e400", "-1e400",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551616",
        "0x1p1023", "0x7fffffffffffffff", "4.9e-324", "-0", "0", "1", "60", "61", "3600.5", "", " ", "\t",
        "٣٠", "１２", "三十", "💥", "\u{0}", "\u{202E}60", "1_000", "1,000", "12abc", "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 999999999 08:49:37 GMT", "Sun, 06 Nov 9223372036854775807 08:49:37 GMT",
        "Sun, 06 Nov -5 08:49:37 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 99 Foo 2026 99:99:99 GMT",
    ]

    static func randomValue(_ rng: inout SeededGenerator) -> String {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: return specials.randomElement(using: &rng)!
        case 1: return String(Double.random(in: -1e300...1e300, using: &rng))
        case 2: return String(Int64.random(in: .min ... .max, using: &rng))
        case 3:
            let digits = Int.random(in: 1...420, using: &rng)
            return String((0..<digits).map { _ in "0123456789".randomElement(using: &rng)! })
        case 4:
            let count = Int.random(in: 0...40, using: &rng)
            return String(
                String.UnicodeScalarView(
                    (0..<count).map { _ in
                        Unicode.Scalar(UInt32.random(in: 0...0x2FFFF, using: &rng)) ?? "?"
                    }))
        default:
            let now = 1_780_000_000 + Int64.random(in: -100_000...100_000, using: &rng)
            return String(now)
        }
    }

    @Test("10,000 random header and body values: no trap, every wait within max_retry_after", arguments: [1, 42, 2026])
    func fuzz(seed: UInt64) async {
        var rng = SeededGenerator(seed: seed)
        let now = Date(timeIntervalSince1970: 1_780_000_000)
        for iteration in 0..<10_000 {
            let maximum = Duration.seconds(Int.random(in: 1...120, using: &rng))
            var odd: [RateLimitSignals.OddValue] = []
            let header = Bool.random(using: &rng) ? Self.randomValue(&rng) : nil
            let bodyValue = Self.randomValue(&rng)
            let body = Bool.random(using: &rng) ? Double(bodyValue) : nil
            if let wait = RateLimitSignals.retryAfter(
                header: header, body: body, now: now, maximumWait: maximum, odd: { odd.append($0) })
            {
                #expect(
                    wait >= .zero && wait <= maximum, "seed \(seed): Retry-After \(header ?? "-") body \(bodyValue)")
            }
            let limit = Self.randomValue(&rng)
            let remaining = Self.randomValue(&rng)
            let reset = Self.randomValue(&rng)
            if let observation = RateLimitSignals.observation(
                limit: limit, remaining: remaining, reset: reset, now: now, maximumWait: maximum,
                odd: { odd.append($0) })
            {
                #expect(observation.resetIn >= .zero && observation.resetIn <= maximum, "seed \(seed): \(reset)")
                #expect(observation.remaining >= 0)
                #expect((observation.limit ?? 1) > 0)
            }
            for value in odd {
                #expect(value.value.unicodeScalars.count <= 64 * 10 + 1)
                #expect(value.value.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F || $0 == "…" })
            }
            // Whole 429 bodies too: the envelope is read field by field.
            let envelope = #"{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","retryAfter":"# + bodyValue + "}}"
            let outcome = AffonsoClient.outcome(
                status: 429, body: Array(envelope.utf8), retryAfterHeader: header,
                context: .init(endpoint: "https://api.affonso.io/v1/events", keyFile: nil, apiKey: "sk_live_x"),
                now: now, maximumWait: maximum)
            if case .failed(let error) = outcome, let wait = error.retryAfter {
                #expect(wait >= .zero && wait <= maximum, "seed \(seed): \(envelope)")
            } else {
                Issue.record("seed \(seed): a 429 must be rate_limited with a wait: \(outcome)")
            }
            // Each case holds a shared task thread for seconds on 2 cores; let the tests waiting on deadlines run.
            if iteration % 100 == 99 { await Task.yield() }
        }
    }

    @Test("an odd value is logged once per field, shortened and escaped")
    func loggedOnce() async throws {
        var reply = StubServer.Reply()
        reply.headers[.init("X-RateLimit-Remaining")!] = "0"
        reply.headers[.init("X-RateLimit-Reset")!] = "1e30"
        let (logger, store) = CollectingLogHandler.logger()
        let server = StubServer(reply: reply)
        try await server.withRunning { port in
            var configuration = AffonsoClientConfiguration(credentials: .apiKey("sk_test_odd_secret"))
            configuration.baseURL = "http://127.0.0.1:\(port)/"
            configuration.plan = .unlimited
            configuration.maximumRetryAfter = .milliseconds(1)
            let client = try AffonsoClient(configuration: configuration, logger: logger)
            for _ in 0..<3 {
                _ = try await client.send(AffonsoClientStubTests.event)
            }
            try await client.shutdown()
        }
        let lines = store.lines.withLock { $0 }.filter { $0.contains("X-RateLimit-Reset") }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("1e30") == true)
        #expect(lines.first?.contains("capped at affonso.max_retry_after") == true)
    }

    @Test("a control character or long value is escaped and cut before it reaches a log line")
    func loggable() {
        let value = RateLimitSignals.OddValue(
            field: "Retry-After", raw: "6\n0\u{202E}" + String(repeating: "9", count: 500), action: "x")
        #expect(!value.value.contains("\n"))
        #expect(value.value.hasPrefix("6\\u{a}0\\u{202e}"))
        #expect(value.value.hasSuffix("…"))
    }

    @Test("max_retry_after must be positive and at most 24h")
    func configurationValidated() {
        for bad in [Duration.zero, .seconds(-1), .seconds(86_401)] {
            var configuration = AffonsoClientConfiguration(credentials: .apiKey("sk_test_odd_secret"))
            configuration.maximumRetryAfter = bad
            #expect(throws: AffonsoError.self) { _ = try AffonsoClient(configuration: configuration) }
        }
        #expect(AffonsoClientConfiguration(credentials: .apiKey("k")).maximumRetryAfter == .seconds(60))
    }

    @Test("a reset a second past the one-minute window is capped quietly; minutes past it is reported")
    func resetJustPastTheWindow() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var odd: [RateLimitSignals.OddValue] = []
        let near = RateLimitSignals.observation(
            limit: "600", remaining: "0", reset: "1800000062", now: now, maximumWait: .seconds(60),
            odd: { odd.append($0) })
        #expect(near?.resetIn == .seconds(60))
        #expect(odd.isEmpty, "62 s is the window plus rounding")
        _ = RateLimitSignals.observation(
            limit: "600", remaining: "0", reset: "1800000300", now: now, maximumWait: .seconds(60),
            odd: { odd.append($0) })
        #expect(odd.map(\.field) == ["X-RateLimit-Reset"])
    }
}
