import AffonsoSandbox
import Foundation
import KafkaClient
import Relay
import Testing

/// The relay end to end on the stack's Tansu broker and an in-process sandbox (SPEC.md §6).
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayFlowTests {
    @Test func happyPathWithFanOutDeliversEveryEventAndCommitsToTheEnd() async throws {
        let relay = try await RelayHarness(referrals: (0..<10).map(referral), fanOut: true)
        let ids = (0..<60).map { "in_happy_\($0)" }
        try await relay.produceInvoices(ids) { "cus_test_\($0 % 10)" }
        try relay.start()
        let delivered = await kafkaEventually(timeout: .seconds(60)) { relay.sandbox.ledger.count >= 120 }
        try await relay.stop()
        #expect(delivered)
        let ledger = relay.sandbox.ledger
        #expect(Set(ledger.compactMap(\.externalEventID)) == Set(ids + ids.map { "seen-" + $0 }))
        #expect(ledger.allSatisfy { $0.replays == 0 })
        #expect(ledger.filter { $0.eventType == "conversion" }.count == 60)
        for (committed, end) in try await relay.committedAndEndOffsets() {
            #expect(committed == end, "committed offset must reach the end offset once everything is delivered")
        }
    }

    @Test func sameKeyEventsArriveInOffsetOrderUnderRandomLatency() async throws {
        let relay = try await RelayHarness(referrals: (0..<4).map(referral), delivery: ["max_in_flight: 64"])
        var faults = SandboxFaults.none
        faults.latency = .milliseconds(20)
        faults.latencyJitter = .milliseconds(20)
        relay.sandbox.setFaults(faults)
        let ids = (0..<120).map { "in_order_\($0)" }
        try await relay.produceInvoices(ids) { "cus_test_\($0 % 4)" }
        try relay.start()
        let delivered = await kafkaEventually(timeout: .seconds(60)) { relay.sandbox.ledger.count >= 120 }
        try await relay.stop()
        #expect(delivered)
        let ledger = relay.sandbox.ledger
        for customer in 0..<4 {
            let sent = ids.enumerated().filter { $0.offset % 4 == customer }.map(\.element)
            let received = ledger.filter { $0.referralID == "ref_test_\(customer)" }.compactMap(\.externalEventID)
            #expect(received == sent, "events of customer \(customer) must arrive in offset order")
        }
    }

    @Test func poisonRecordsBecomeDeadLettersWhileThePartitionKeepsFlowing() async throws {
        let relay = try await RelayHarness(referrals: [referral(0)], partitions: 1, maxRecordBytes: 2048)
        let poison: [[UInt8]] = [
            Array("{not json".utf8),
            Array(("{\"type\": \"invoice.paid\", \"pad\": \"" + String(repeating: "x", count: 4096) + "\"}").utf8),
            Array(
                "{\"id\": \"in_poison_map\", \"type\": \"invoice.paid\", \"amount\": 100, \"currency\": \"usd\"}".utf8),
            Array(
                "{\"id\": \"in_poison_neg\", \"type\": \"invoice.paid\", \"customer\": \"cus_test_0\", \"amount\": -5, \"currency\": \"usd\"}"
                    .utf8),
        ]
        try await relay.produceRaw(poison)
        try await relay.produceInvoices(["in_after_poison"]) { _ in "cus_test_0" }
        try relay.start()
        let delivered = await kafkaEventually(timeout: .seconds(60)) {
            relay.sandbox.ledger.contains { $0.externalEventID == "in_after_poison" }
        }
        let letters = try await relay.deadLetters(count: 4)
        try await relay.stop()
        #expect(delivered, "a good record after poison records must be delivered")
        let classes = letters.compactMap { $0.header("affonso-relay.error.class") }
        #expect(classes.sorted() == ["decode", "mapping", "record_too_large", "validation"])
        for letter in letters {
            for name in [
                "affonso-relay.attempt", "affonso-relay.rule", "affonso-relay.original.topic",
                "affonso-relay.original.partition", "affonso-relay.original.offset",
                "affonso-relay.original.timestamp", "affonso-relay.error.class", "affonso-relay.error.message",
                "affonso-relay.error.status", "affonso-relay.first_failure_at", "affonso-relay.not_before",
            ] {
                #expect(letter.header(name) != nil, "dead letter lacks \(name)")
            }
            #expect(letter.header("affonso-relay.original.topic") == relay.source)
            #expect(letter.key.map { String(decoding: $0, as: UTF8.self) } == "poison")
        }
        let inspected = try await DeadLetterReader.read(
            topic: relay.deadLetterTopic, bootstrapServers: kafkaBrokers ?? [],
            properties: ["session.timeout.ms": "6000"],
            logger: RelayHarness.logger)
        #expect(inspected.letters.map(\.envelope.errorClass.rawValue).sorted() == classes.sorted())
        #expect(inspected.letters.allSatisfy { $0.envelope.original.topic == relay.source })
        // What a listing holds of each letter is its envelope: a letter's value and headers may be megabytes.
        #expect(inspected.letters.allSatisfy { $0.message.value.isEmpty && $0.message.headers.isEmpty })
        let mapping = letters.first { $0.header("affonso-relay.error.class") == "mapping" }
        #expect(mapping?.header("affonso-relay.rule") == "invoice-paid")
        #expect(mapping?.header("affonso-relay.error.message")?.contains("customer") == true)
        for (committed, end) in try await relay.committedAndEndOffsets(partitions: 1) {
            #expect(committed == end)
        }
    }

    @Test func referralNotFoundRetriesThroughTheTiersUntilTheReferralExists() async throws {
        let relay = try await RelayHarness(referrals: [], partitions: 1, tiers: ["1s", "2s"], maxAttempts: 5)
        try await relay.produceInvoices(["in_late_referral"]) { _ in "cus_test_7" }
        try relay.start()
        let retried = await kafkaEventually(timeout: .seconds(30)) { relay.sandbox.stats.requests >= 2 }
        try relay.sandbox.addReferral(referral(7))
        let delivered = await kafkaEventually(timeout: .seconds(60)) {
            relay.sandbox.ledger.contains { $0.externalEventID == "in_late_referral" }
        }
        try await relay.stop()
        #expect(retried)
        #expect(delivered, "the event must be delivered once its referral exists")
        for (committed, end) in try await relay.committedAndEndOffsets(partitions: 1) {
            #expect(committed == end)
        }
    }

    @Test func referralNotFoundEndsInTheDeadLetterTopicAfterMaxAttempts() async throws {
        let relay = try await RelayHarness(referrals: [], partitions: 1, tiers: ["1s", "1500ms"], maxAttempts: 3)
        try await relay.produceInvoices(["in_never_found"]) { _ in "cus_nobody" }
        let started = Date()
        try relay.start()
        let letters = try await relay.deadLetters(count: 1, timeout: .seconds(60))
        try await relay.stop()
        let letter = try #require(letters.first)
        #expect(letter.header("affonso-relay.error.class") == "referral_not_found")
        #expect(letter.header("affonso-relay.attempt") == "3")
        #expect(letter.header("affonso-relay.error.status") == "404")
        #expect(Date().timeIntervalSince(started) >= 2, "two 1 s tiers must have been waited for")
        #expect(relay.sandbox.ledger.isEmpty)
    }

    @Test func dlqReplayDeliversFixedDeadLettersOnceAndASecondReplaySendsNothing() async throws {
        let relay = try await RelayHarness(
            referrals: [], partitions: 1, delivery: ["referral_not_found: dead_letter"]
        )
        let ids = (0..<3).map { "in_replay_\($0)" }
        try await relay.produceInvoices(ids) { _ in "cus_test_5" }
        try relay.start()
        let letters = try await relay.deadLetters(count: 3)
        #expect(letters.count == 3)
        try relay.sandbox.addReferral(referral(5))
        let replayer = DeadLetterReplayer(
            service: relay.serviceConfiguration, rules: relay.rules, logger: RelayHarness.logger)

        func replay(dryRun: Bool) async throws -> [DeadLetterReplayer.Entry] {
            var entries: [DeadLetterReplayer.Entry] = []
            let summary = try await replayer.replay(.init(errorClass: .referralNotFound), dryRun: dryRun) {
                entries.append($0)
            }
            #expect(summary.selected == entries.count && summary.sent == entries.filter(\.isSent).count)
            return entries
        }
        let dryRun = try await replay(dryRun: true)
        #expect(dryRun.count == 3 && dryRun.allSatisfy(\.isNew))
        #expect(
            dryRun.allSatisfy {
                if case .results(let results) = $0.outcome { results.first?.event != nil } else { false }
            })
        try await Task.sleep(for: .seconds(2))
        #expect(relay.sandbox.ledger.isEmpty, "a dry run sends nothing")
        let topicsAfterDryRun = try await TopicProvisioner.exists(
            replayer.replayedTopic, bootstrapServers: kafkaBrokers ?? [], properties: [:], logger: RelayHarness.logger)
        #expect(!topicsAfterDryRun, "a dry run creates nothing either")

        let first = try await replay(dryRun: false)
        #expect(first.filter(\.isNew).count == 3)
        let delivered = await kafkaEventually(timeout: .seconds(30)) { relay.sandbox.ledger.count >= 3 }
        #expect(delivered, "replayed dead letters are delivered by the running relay")

        let second = try await replay(dryRun: false)
        #expect(second.count == 3 && second.allSatisfy { !$0.isNew }, "a second replay sends nothing new")
        try await Task.sleep(for: .seconds(3))
        try await relay.stop()
        #expect(Set(relay.sandbox.ledger.compactMap(\.externalEventID)) == Set(ids))
        #expect(relay.sandbox.ledger.allSatisfy { $0.replays == 0 })
    }
}
