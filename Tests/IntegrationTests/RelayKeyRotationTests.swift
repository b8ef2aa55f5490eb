import AffonsoSandbox
import Foundation
import KafkaClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 17: the key read from `api_key_file`, and the key it is rotated to while the relay runs, never reach the
/// relay's log, `/metrics` or the headers of any retry or dead-letter record, also when Affonso's error messages
/// echo them.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayKeyRotationTests {
    typealias Support = RelayProcessOperationsTests

    /// The key file holds a key Affonso refuses; it is rotated while that record fails. Then records whose
    /// customer id is each key fail with 404, whose message quotes the customer id (the way a misbehaving API or
    /// proxy might echo a key), through the retry tier to the dead-letter topic.
    @Test func rotatedKeyFileKeysNeverReachLogsMetricsOrRetryHeaders() async throws {
        let old = Support.distinctiveKey("rotOld")
        let new = Support.distinctiveKey("rotNew")
        let keyFile = try Support.file(old + "\n")
        #expect(!keyFile.contains(old) && !keyFile.contains(new), "the file's path must not give a key away")
        let relay = try await RelayHarness(
            referrals: [referral(0)], partitions: 1, tiers: ["1s"], maxAttempts: 2, apiKey: new)
        let process = try RelayProcess(configuration: {
            relay.configurationText(listen: $0, logLevel: "debug", logFormat: "json", apiKeyFile: keyFile)
        })
        #expect(await Support.ready(process, true), "ready before any request")

        // 1. The first key is refused: the record fails and is held (a credentials fault), and the file is
        //    rotated meanwhile.
        try await relay.produceInvoices(["in_rot_0"]) { _ in "cus_test_0" }
        #expect(await Support.ready(process, false, timeout: .seconds(30)), "the refused key faults")
        var metricsSeen = await Support.metrics(process)
        try (new + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let delivered = await kafkaEventually(timeout: .seconds(60)) { relay.sandbox.stats.accepted == 1 }
        #expect(delivered, "the held record is delivered with the rotated key (the probe re-reads the file)")

        // 2. Records that fail with the rotated key, their errors quoting both keys: retry tier, then dead letter.
        try await relay.produceInvoices(["in_rot_1", "in_rot_2"]) { [old, new] in $0 == 0 ? old : new }
        let deadLetters = try await relay.deadLetters(count: 2, timeout: .seconds(60))
        let retried = try await relay.read(relay.retryTopics[0], count: 2, timeout: .seconds(60))
        metricsSeen += await Support.metrics(process)
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(30)) == 0)
        await process.kill()
        try await relay.stop()

        #expect(relay.sandbox.stats.byStatus[401, default: 0] >= 1, "the run went through a refused key")
        #expect(deadLetters.count == 2 && retried.count == 2, "both records went through the tier to dead letters")
        let records = deadLetters + retried
        #expect(
            records.allSatisfy { $0.header("affonso-relay.error.class") == "referral_not_found" },
            "each failed with 404")
        var headerText = ""
        for record in records {
            for header in record.headers {
                headerText += header.key + "=" + String(decoding: header.value ?? [], as: UTF8.self) + "\n"
            }
        }
        let messages = records.compactMap { $0.header("affonso-relay.error.message") }
        #expect(messages.count == 4)
        let scrubbed = messages.allSatisfy { $0.contains("customer_id \"[redacted]\"") }
        #expect(scrubbed, "Affonso's message quoted the key and the relay removed it")
        let logs = Support.everything(process)
        let (faulted, recovered) = (
            logs.contains("Affonso refused the API key"), logs.contains("Affonso accepts the API key again")
        )
        #expect(faulted && recovered, "the log shows the refused key and the recovery")
        // Booleans, so that a failure never prints the log or the headers.
        for (what, text) in [
            ("the log", logs), ("/metrics", metricsSeen), ("a retry or dead-letter header", headerText),
        ] {
            let (hasOld, hasNew) = (text.contains(old), text.contains(new))
            #expect(!hasOld, "the first key reached \(what)")
            #expect(!hasNew, "the rotated key reached \(what)")
        }
    }
}
