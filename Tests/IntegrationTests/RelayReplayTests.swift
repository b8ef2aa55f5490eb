import AffonsoSandbox
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `dlq replay` as users run it (issue 6, show 11): a rule bug dead-letters events; after the rule is fixed and
/// the relay rolled out, `affonso-relay dlq replay` delivers them once, and a second replay delivers nothing.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayReplayTests {
    @Test func replayAfterFixingARuleDeliversTheDeadLettersOnceAndASecondReplayNothing() async throws {
        let relay = try await RelayHarness(referrals: [referral(3)], partitions: 1)
        let broken = RelayHarness.rules(source: relay.source, fanOut: false, currency: "payload.currency")  // "usd"
        let fixed = RelayHarness.rules(source: relay.source, fanOut: false)
        let ids = (0..<3).map { "in_rule_fix_\($0)" }
        try await relay.produceInvoices(ids) { _ in "cus_test_3" }

        let before = try RelayProcess(configuration: { relay.configurationText(listen: $0, rules: broken) })
        let letters = try await relay.deadLetters(count: 3, timeout: .seconds(60))
        before.signal(SIGTERM)
        #expect(await before.waitForExit() == 0)
        #expect(letters.count == 3)
        #expect(letters.allSatisfy { $0.header("affonso-relay.error.class") == "validation" })
        #expect(relay.sandbox.ledger.isEmpty, "the broken rule's events never reach Affonso")
        let tooEarly = try await RelayProcess.command(["dlq", "replay", "--config", before.configPath])
        #expect(
            tooEarly.output.contains(
                "3 selected, 0 sent, 0 already replayed, 3 not sent because today's rules still fail"),
            "a replay before the fix sends nothing and remembers nothing: \(tooEarly.output)")

        let after = try RelayProcess(configuration: { relay.configurationText(listen: $0, rules: fixed) })
        defer { after.signal(SIGKILL) }
        #expect(await after.waitForReadiness(true))
        let replay = ["dlq", "replay", "--config", after.configPath, "--error-class", "validation"]

        let dryRun = try await RelayProcess.command(replay + ["--dry-run"])
        #expect(dryRun.status == 0, "\(dryRun.output)")
        #expect(dryRun.output.contains("3 selected, 3 would be sent, 0 already replayed"), "\(dryRun.output)")
        #expect(dryRun.output.contains("invoice-paid: conversion in_rule_fix_0"), "the dry run shows today's mapping")
        try await Task.sleep(for: .seconds(2))
        #expect(relay.sandbox.ledger.isEmpty, "a dry run sends nothing")

        let first = try await RelayProcess.command(replay)
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("3 selected, 3 sent, 0 already replayed"), "\(first.output)")
        let delivered = await kafkaEventually(timeout: .seconds(30)) { relay.sandbox.ledger.count >= 3 }
        #expect(delivered, "the running relay delivers the replayed dead letters with the fixed rule")

        let second = try await RelayProcess.command(replay)
        #expect(second.output.contains("3 selected, 0 sent, 3 already replayed"), "\(second.output)")
        try await Task.sleep(for: .seconds(3))
        after.signal(SIGTERM)
        #expect(await after.waitForExit() == 0)
        try await relay.stop()

        let ledger = relay.sandbox.ledger
        #expect(ledger.count == 3, "each dead letter is delivered once")
        #expect(Set(ledger.compactMap(\.externalEventID)) == Set(ids))
        #expect(relay.sandbox.stats.replays == 0, "nothing was sent twice")
    }

    /// A replay reads the dead-letter topic as a stream, and inspect keeps no values: 300 dead letters of 800 KB
    /// (240 MB) pass through `dlq inspect`, `dlq replay --dry-run` and `dlq replay` in a fraction of that, and the
    /// replay sends them all.
    @Test func replayOfLargeDeadLettersStaysSmall() async throws {
        let relay = try await RelayHarness(referrals: [referral(4)], partitions: 1)
        let broken = RelayHarness.rules(source: relay.source, fanOut: false, currency: "payload.currency")  // "usd"
        let fixed = RelayHarness.rules(source: relay.source, fanOut: false)
        let count = 300
        let padding = String(repeating: "x", count: 800_000)
        let values = (0..<count).map { index in
            Array(
                """
                {"id": "in_large_replay_\(index)", "type": "invoice.paid", "customer": "cus_test_4", \
                "amount": 100, "currency": "usd", "notes": "\(padding)"}
                """.utf8)
        }
        try await relay.produceRaw(values, key: "cus_test_4")
        let before = try RelayProcess(configuration: { relay.configurationText(listen: $0, rules: broken) })
        let deadLettered = await kafkaEventually(timeout: .seconds(120)) {
            (try? await relay.committedTotal(partitions: 1)) == Int64(count)
        }
        before.signal(SIGTERM)
        #expect(await before.waitForExit() == 0)
        #expect(deadLettered, "the broken rule dead-letters every record")

        let after = try RelayProcess(configuration: { relay.configurationText(listen: $0, rules: fixed) })
        defer { after.signal(SIGKILL) }
        let inspect = try await RelayProcess.measuredCommand(["dlq", "inspect", "--config", after.configPath])
        #expect(inspect.output.contains("\(count) dead letters"), "\(inspect.output.suffix(500))")
        let replay = ["dlq", "replay", "--config", after.configPath]
        let dryRun = try await RelayProcess.measuredCommand(replay + ["--dry-run"])
        #expect(dryRun.output.contains("\(count) selected, \(count) would be sent"), "\(dryRun.output.suffix(500))")
        let sent = try await RelayProcess.measuredCommand(replay)
        #expect(sent.output.contains("\(count) selected, \(count) sent"), "\(sent.output.suffix(500))")
        let delivered = await kafkaEventually(timeout: .seconds(120)) { relay.sandbox.stats.accepted >= count }
        after.signal(SIGTERM)
        #expect(await after.waitForExit() == 0)
        try await relay.stop()

        #expect(delivered, "the running relay delivers the replayed dead letters: \(relay.sandbox.stats.accepted)")
        let peaks =
            "inspect \(inspect.peakMebibytes) MiB, dry run \(dryRun.peakMebibytes) MiB, replay \(sent.peakMebibytes) MiB"
        #expect(
            [inspect, dryRun, sent].allSatisfy { $0.peakMebibytes < 160 }, "peak memory for 240 MB: \(peaks)")
        print("replay memory: \(peaks)")
    }
}
