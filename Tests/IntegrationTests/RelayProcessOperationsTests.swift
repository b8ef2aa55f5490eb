import AffonsoSandbox
import Foundation
import KafkaClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What an operator sees of the `affonso-relay run` binary (SPEC.md §8, issue 7): `/livez`, `/readyz` and
/// `/metrics` over a real socket, readiness through a credentials fault, a drain, a dead broker, the log lines in
/// both formats, and an API key that never leaves the process.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayProcessOperationsTests {
    // MARK: - Support

    /// The value of `series` (name and labels exactly as exposed) in Prometheus text; nil when absent.
    static func value(_ text: String, _ series: String) -> Double? {
        let line = text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// `/metrics` of the process now ("" when it does not answer).
    static func metrics(_ process: RelayProcess) async -> String {
        await process.get("/metrics")?.body ?? ""
    }

    /// A key no scrubber pattern recognises (not `sk_…`), so only the code paths keep it out of the output.
    static func distinctiveKey(_ prefix: String) -> String {
        prefix + String(UInt64.random(in: 1 << 60...UInt64.max), radix: 36)
    }

    /// A new file holding `text`, in a directory of its own.
    static func file(_ text: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(uniqueName("key"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("api-key").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The lines the process wrote to standard error (its log) and standard output.
    static func everything(_ process: RelayProcess) -> String { process.log + "\n" + process.output }

    /// Waits until `/readyz` answers `ready` and the process still runs.
    static func ready(_ process: RelayProcess, _ ready: Bool, timeout: Duration = .seconds(45)) async -> Bool {
        await process.waitForReadiness(ready, timeout: timeout) && process.isRunning
    }

    // MARK: - Endpoints and metrics

    @Test func endpointsAnswerAndMetricsShowASmallFlow() async throws {
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1)
        let process = try RelayProcess(configuration: { relay.configurationText(listen: $0) })
        let answered = await kafkaEventually(timeout: .seconds(30)) { await process.get("/livez") != nil }
        let live = await process.get("/livez")
        #expect(answered && live?.status == 200 && live?.body == "ok\n", "/livez passes from its first answer")
        #expect(await Self.ready(process, true), "/readyz passes once the relay consumes")
        let unknown = await process.get("/nothing-here")
        #expect(unknown?.status == 404, "an unknown path is 404, got \(String(describing: unknown?.status))")

        // The flow on the one source partition: three invoices (the first meets a 429), a poison record, a record
        // no rule matches, and an invoice of a customer Affonso does not know (both retry tiers, then a dead letter).
        var faults = SandboxFaults()
        faults.rateLimitNext = 1
        relay.sandbox.setFaults(faults)
        try await relay.produceInvoices(["in_metrics_0", "in_metrics_1", "in_metrics_2"]) { _ in "cus_test_0" }
        // The rest once these are in, so that only the first invoice's retry waits for the rate limit.
        let first = await kafkaEventually(timeout: .seconds(20)) { relay.sandbox.stats.accepted == 3 }
        #expect(first)
        try await relay.produceRaw([Array("{broken".utf8), Array(#"{"id": "evt_1", "type": "customer.created"}"#.utf8)])
        try await relay.produceInvoices(["in_metrics_5"]) { _ in "cus_unknown" }
        let source = relay.source
        let committed = "affonso_relay_committed_offset{topic=\"\(source)\",partition=\"0\"}"
        let lag = "affonso_relay_consumer_lag{topic=\"\(source)\",partition=\"0\"}"
        let notFound = #"affonso_relay_dead_lettered_total{class="referral_not_found"}"#
        // consumer_lag is measured every 10 s.
        let settled = await kafkaEventually(timeout: .seconds(45)) {
            let text = await Self.metrics(process)
            return Self.value(text, committed) == 6 && Self.value(text, lag) == 0 && Self.value(text, notFound) == 1
        }
        let response = try #require(await process.get("/metrics"))
        let text = response.body
        #expect(settled, "the flow shows on /metrics:\n\(text)")
        #expect(response.status == 200)
        let expected: [(String, Double)] = [
            ("affonso_relay_records_consumed_total{topic=\"\(source)\"}", 6),
            ("affonso_relay_records_consumed_total{topic=\"\(relay.retryTopics[0])\"}", 1),
            ("affonso_relay_records_consumed_total{topic=\"\(relay.retryTopics[1])\"}", 1),
            (#"affonso_relay_events_delivered_total{event_type="conversion",rule="invoice-paid"}"#, 3),
            ("affonso_relay_skipped_total{topic=\"\(source)\"}", 1),
            (#"affonso_relay_failures_total{class="decode"}"#, 1),
            (#"affonso_relay_dead_lettered_total{class="decode"}"#, 1),
            (notFound, 1),
            ("affonso_relay_retried_total{tier=\"\(relay.retryTopics[0])\"}", 1),
            ("affonso_relay_retried_total{tier=\"\(relay.retryTopics[1])\"}", 1),
            (#"affonso_relay_api_responses_total{status="200"}"#, 3),
            (#"affonso_relay_api_responses_total{status="429"}"#, 1),
            ("affonso_relay_rate_limit_waits_total", 1),
            (committed, 6),
            (lag, 0),
            ("affonso_relay_in_flight", 0),
            ("affonso_relay_paused_partitions", 0),
            ("affonso_relay_credentials_fault", 0),
        ]
        for (series, value) in expected {
            #expect(Self.value(text, series) == value, "\(series) should be \(value)")
        }
        // Every answer is one latency observation: 3 × 200, 1 × 429 and the unknown customer's 404s.
        let notFoundAnswers = Self.value(text, #"affonso_relay_api_responses_total{status="404"}"#) ?? 0
        #expect(notFoundAnswers >= 3, "the unknown customer was tried once per tier at least")
        #expect(Self.value(text, "affonso_relay_request_duration_seconds_count") == 4 + notFoundAnswers)
        #expect(
            Self.value(text, #"affonso_relay_request_duration_seconds_bucket{le="+Inf"}"#) == 4 + notFoundAnswers)
        let buckets = text.split(separator: "\n").filter {
            $0.hasPrefix("affonso_relay_request_duration_seconds_bucket{")
        }
        #expect(buckets.count >= 5, "the latency histogram has buckets:\n\(buckets.joined(separator: "\n"))")
        #expect(text.contains("# TYPE affonso_relay_request_duration_seconds histogram"))
        #expect((Self.value(text, "affonso_relay_rate_limit_wait_seconds_total") ?? 0) > 0)
        #expect(relay.sandbox.stats.accepted == 3)

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0, "SIGTERM ends the relay cleanly")
        await process.kill()
        try await relay.stop()
    }

    // MARK: - Readiness

    /// The relay reads its key from `api_key_file`; Affonso refuses the first key, then the file is fixed.
    @Test func credentialsFaultFailsReadinessUntilTheKeyFileHoldsAWorkingKey() async throws {
        let good = Self.distinctiveKey("opsGood")
        let wrong = Self.distinctiveKey("opsWrong")
        let keyFile = try Self.file(wrong + "\n")
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1, apiKey: good)
        let process = try RelayProcess(configuration: {
            relay.configurationText(listen: $0, logLevel: "trace", logFormat: "json", apiKeyFile: keyFile)
        })
        #expect(await Self.ready(process, true), "ready before any request: the key is not known to be bad")

        try await relay.produceInvoices(["in_cred_0"]) { _ in "cus_test_0" }
        #expect(await Self.ready(process, false, timeout: .seconds(20)), "a 401 fails /readyz")
        #expect(await process.get("/livez")?.status == 200, "the process stays live")
        let faulted = await Self.metrics(process)
        #expect(Self.value(faulted, "affonso_relay_credentials_fault") == 1)
        #expect((Self.value(faulted, "affonso_relay_paused_partitions") ?? 0) >= 1, "fetching stops")
        #expect(relay.sandbox.stats.accepted == 0)

        try good.write(toFile: keyFile, atomically: true, encoding: .utf8)
        // The relay probes every 30 s, re-reading the key file first.
        #expect(await Self.ready(process, true, timeout: .seconds(50)), "/readyz passes once the new key works")
        let delivered = await kafkaEventually(timeout: .seconds(20)) { relay.sandbox.stats.accepted == 1 }
        #expect(delivered, "the held event is delivered with the new key")
        let recovered = await Self.metrics(process)
        #expect(Self.value(recovered, "affonso_relay_credentials_fault") == 0)
        #expect(Self.value(recovered, "affonso_relay_paused_partitions") == 0)
        #expect(process.occurrences(of: "Affonso refused the API key") == 1, "the fault is logged once")
        #expect(process.occurrences(of: "Affonso accepts the API key again") == 1)

        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        await process.kill()
        try await relay.stop()
        #expect(try await relay.committedTotal(partitions: 1) == 1)
        let output = Self.everything(process) + faulted + recovered
        for key in [good, wrong] {
            #expect(!output.contains(key), "a key reached the trace log or /metrics")
        }
    }

    /// SIGTERM while slow requests are in flight: `/readyz` fails at once, the drain finishes them, exit 0.
    @Test func sigtermFailsReadinessWhileDrainingThenExitsCleanly() async throws {
        let relay = try await RelayHarness(referrals: (0..<5).map(referral), partitions: 1)
        let process = try RelayProcess(configuration: {
            relay.configurationText(listen: $0, logFormat: "json", shutdownGrace: "20s")
        })
        #expect(await Self.ready(process, true))
        var faults = SandboxFaults()
        faults.latency = .milliseconds(1_500)
        relay.sandbox.setFaults(faults)
        // Five customers: the five events are sent at once, and each answer takes 1.5 s.
        let ids = (0..<5).map { "in_drain_\($0)" }
        try await relay.produceInvoices(ids) { "cus_test_\($0)" }
        let inFlight = await kafkaEventually(timeout: .seconds(20)) {
            Self.value(await Self.metrics(process), "affonso_relay_in_flight") == 5
        }
        #expect(inFlight, "the five events are in flight")

        process.signal(SIGTERM)
        let notReady = await kafkaEventually(timeout: .seconds(1)) {
            await process.get("/readyz")?.status == 503 && process.isRunning
        }
        let accepted = relay.sandbox.stats.accepted
        let drainingMetrics = await Self.metrics(process)
        #expect(notReady, "/readyz answers 503 while the relay drains")
        #expect(accepted < ids.count, "the drain was still under way (\(accepted) of 5 delivered)")
        #expect(Self.value(drainingMetrics, "affonso_relay_in_flight") == 5, "/metrics still answers while draining")
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0, "the drain ends with exit status 0")
        await process.kill()
        try await relay.stop()
        #expect(relay.sandbox.stats.accepted == ids.count, "the drain finishes what was in flight")
        #expect(try await relay.committedTotal(partitions: 1) == Int64(ids.count), "and commits it")
        #expect(process.occurrences(of: "shutting down: draining in-flight work") == 1)
    }

    /// No broker answers at the configured address: the process lives, but is never ready.
    @Test func unreachableBrokerKeepsReadinessFailingWhileLivenessPasses() async throws {
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1)
        let dead = "127.0.0.1:\(freeTCPPort())"
        let process = try RelayProcess(configuration: {
            relay.configurationText(listen: $0, logFormat: "json", brokers: [dead], createTopics: false)
        })
        let answered = await kafkaEventually(timeout: .seconds(30)) { await process.get("/livez") != nil }
        #expect(answered)
        var answers: [UInt] = []
        for _ in 0..<10 {
            if let ready = await process.get("/readyz") { answers.append(ready.status) }
            #expect(await process.get("/livez")?.status == 200)
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(answers.count == 10 && answers.allSatisfy { $0 == 503 }, "/readyz answers: \(answers)")
        #expect(process.isRunning)
        #expect(process.occurrences(of: "brokers are down") >= 1, "the log says why")
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) != nil, "SIGTERM ends it")
        await process.kill()
        try await relay.stop()
    }

    // MARK: - The API key stays inside

    enum KeySource: String, CaseIterable, CustomTestStringConvertible {
        case inline, file
        var testDescription: String { rawValue }
        /// The log level each source is tested with.
        var level: String { self == .inline ? "trace" : "debug" }
    }

    /// A refused key (401), then the right one through 5xx faults, a retry, a dead letter and shutdown: neither
    /// key shows in the log, on /metrics or in the dead-letter record.
    @Test(arguments: KeySource.allCases)
    func apiKeyNeverReachesLogsMetricsOrDeadLetters(_ source: KeySource) async throws {
        let good = Self.distinctiveKey("opsGood")
        let wrong = Self.distinctiveKey("opsWrong")
        let relay = try await RelayHarness(
            referrals: [referral(0)], partitions: 1, tiers: ["1s"], maxAttempts: 2, apiKey: good)
        func configuration(_ key: String) throws -> (String) -> String {
            let file = source == .file ? try Self.file(key) : nil
            return { listen in
                relay.configurationText(
                    listen: listen, logLevel: source.level, logFormat: "json", shutdownGrace: "3s",
                    apiKey: file == nil ? key : nil, apiKeyFile: file)
            }
        }
        var metricsSeen = ""

        // 1. The wrong key: a 401, a credentials fault, shutdown while faulted.
        let refused = try RelayProcess(configuration: try configuration(wrong))
        #expect(await Self.ready(refused, true))
        try await relay.produceInvoices(["in_key_0"]) { _ in "cus_test_0" }
        #expect(await Self.ready(refused, false, timeout: .seconds(20)), "the wrong key faults")
        metricsSeen += await Self.metrics(refused)
        refused.signal(SIGTERM)
        #expect(await refused.waitForExit(timeout: .seconds(30)) == 0)
        await refused.kill()
        #expect(relay.sandbox.stats.byStatus[401, default: 0] >= 1)

        // 2. The right key: the held event, then 5xx answers through the retry tier to a dead letter, and a
        //    poison record.
        let process = try RelayProcess(configuration: try configuration(good))
        let first = await kafkaEventually(timeout: .seconds(40)) { relay.sandbox.stats.accepted == 1 }
        #expect(first, "the event refused before is delivered with the right key")
        var faults = SandboxFaults()
        faults.errorRate = 1
        relay.sandbox.setFaults(faults)
        try await relay.produceInvoices(["in_key_1"]) { _ in "cus_test_0" }
        let serverError = try await relay.deadLetters(count: 1)
        relay.sandbox.setFaults(.none)
        try await relay.produceRaw([Array(#"{"id": "in_key_2", "note": "not closed"#.utf8)])
        let deadLetters = try await relay.deadLetters(count: 2)
        metricsSeen += await Self.metrics(process)
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        await process.kill()
        try await relay.stop()

        #expect(serverError.first?.header("affonso-relay.error.class") == "api_5xx")
        #expect(relay.sandbox.stats.byStatus[500, default: 0] >= 2, "the sandbox answered 500")
        let classes = deadLetters.compactMap { $0.header("affonso-relay.error.class") }.sorted()
        #expect(classes == ["api_5xx", "decode"], "the 5xx event and the poison record are dead-lettered")
        var deadLetterText = ""
        for record in deadLetters {
            deadLetterText += String(decoding: record.value, as: UTF8.self)
            for header in record.headers {
                deadLetterText += header.key + "=" + String(decoding: header.value ?? [], as: UTF8.self) + "\n"
            }
        }
        #expect(deadLetterText.contains("affonso-relay.error.message="))
        let logs = Self.everything(refused) + Self.everything(process)
        #expect(logs.contains("Affonso refused the API key"), "the run went through a 401")
        #expect(logs.contains("\"status\":\"500\""), "and 500s")
        for (what, text) in [("the log", logs), ("/metrics", metricsSeen), ("the dead letter", deadLetterText)] {
            #expect(!text.contains(good), "the working key reached \(what)")
            #expect(!text.contains(wrong), "the refused key reached \(what)")
        }
        #expect(!logs.contains("[redacted]"), "nothing even tried to log a key")
    }

    // MARK: - Log lines

    @Test func jsonLogLinesAreObjectsWithStableKeys() async throws {
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1, tiers: ["1s"], maxAttempts: 2)
        let process = try RelayProcess(configuration: { relay.configurationText(listen: $0, logLevel: "debug") })
        #expect(await Self.ready(process, true))
        try await relay.produceInvoices(["in_json_0"]) { _ in "cus_test_0" }
        try await relay.produceRaw([Array("{broken".utf8)])
        // An unknown customer: referral_not_found, retried through the tier, then dead-lettered.
        try await relay.produceInvoices(["in_json_2"]) { _ in "cus_unknown" }
        _ = try await relay.deadLetters(count: 2)
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        await process.kill()
        try await relay.stop()

        let lines = process.log.split(separator: "\n")
        #expect(lines.count >= 5)
        var objects: [[String: Any]] = []
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            guard let object else { continue }
            objects.append(object)
            let ts = object["ts"] as? String
            #expect(ts.flatMap { try? Date($0, strategy: .iso8601) } != nil, "ts is RFC 3339: \(line)")
            #expect(
                ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(
                    object["level"] as? String))
            #expect((object["msg"] as? String).map { !$0.isEmpty } == true, "msg: \(line)")
            #expect(line.hasPrefix("{\"ts\":"), "ts comes first: \(line)")
        }
        func line(_ message: String) -> [String: Any]? {
            objects.first { ($0["msg"] as? String)?.hasPrefix(message) == true }
        }
        let poison = objects.first {
            ($0["msg"] as? String)?.hasPrefix("event dead-lettered") == true && $0["class"] as? String == "decode"
        }
        #expect(poison?["topic"] as? String == relay.source)
        #expect(poison?["partition"] as? String == "0")
        #expect(poison?["offset"] as? String == "1")
        #expect(poison?["level"] as? String == "warning")
        let retried = line("event sent to retry tier 1")
        #expect(retried?["class"] as? String == "referral_not_found")
        #expect(retried?["rule"] as? String == "invoice-paid")
        #expect(retried?["topic"] as? String == relay.source)
        #expect(retried?["offset"] as? String == "2")
        let notFound = objects.first {
            ($0["msg"] as? String)?.hasPrefix("event dead-lettered") == true
                && $0["class"] as? String == "referral_not_found"
        }
        #expect(notFound?["rule"] as? String == "invoice-paid", "the dead letter after the tier keeps its origin")
        #expect(notFound?["topic"] as? String == relay.source)
        #expect(notFound?["offset"] as? String == "2")
        let response = objects.first { $0["msg"] as? String == "Affonso response" && $0["status"] as? String == "200" }
        #expect(response?["external_event_id"] as? String == "in_json_0", "debug lines name the event")
        #expect(line("partitions assigned") != nil)
    }

    @Test func textLogLinesAreForPeople() async throws {
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1)
        let process = try RelayProcess(configuration: {
            relay.configurationText(listen: $0, logLevel: "info", logFormat: "text")
        })
        #expect(await Self.ready(process, true))
        try await relay.produceRaw([Array("{broken".utf8)])
        _ = try await relay.deadLetters(count: 1)
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        await process.kill()
        try await relay.stop()

        let lines = process.log.split(separator: "\n").map(String.init)
        #expect(lines.count >= 3)
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        for line in lines {
            let fields = line.split(separator: " ", maxSplits: 2).map(String.init)
            #expect(!line.hasPrefix("{"), "not JSON: \(line)")
            #expect(fields.count == 3, "time, level, message: \(line)")
            guard fields.count == 3 else { continue }
            #expect((try? Date(fields[0], strategy: .iso8601)) != nil, "starts with the time: \(line)")
            #expect(levels.contains(fields[1]), "then the level: \(line)")
        }
        let deadLetter = lines.first { $0.contains(" warning event dead-lettered to \(relay.deadLetterTopic)") }
        #expect(deadLetter != nil, "the dead letter is logged:\n\(lines.joined(separator: "\n"))")
        for field in ["class=decode", "offset=0", "partition=0", "rule=", "topic=\(relay.source)"] {
            #expect(deadLetter?.contains(" " + field) == true, "\(field) in \(deadLetter ?? "")")
        }
        #expect(lines.contains { $0.contains(" info relay stopped") })
    }
}
