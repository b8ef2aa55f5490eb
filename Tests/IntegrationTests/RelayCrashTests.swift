import AffonsoSandbox
import Foundation
import KafkaClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The relay binary killed and restarted, and several relay processes sharing a group, while events flow
/// (issue 6, shows 8 and 9): every event reaches Affonso, replays stay bounded.
@Suite(.enabled(if: kafkaBrokers != nil, kafkaSkipReason), .serialized)
struct RelayCrashTests {
    static let customers = 50

    static func harness(partitions: Int = 3) async throws -> RelayHarness {
        try await RelayHarness(
            referrals: (0..<customers).map(referral), partitions: partitions, delivery: ["max_in_flight: 64"])
    }

    /// Delivered (newly accepted) events so far.
    static func accepted(_ relay: RelayHarness) -> Int { relay.sandbox.stats.accepted }

    @Test func sigkillThreeTimesWhileTwentyThousandEventsFlowLosesNothing() async throws {
        let relay = try await Self.harness()
        let ids = (0..<20_000).map { "in_kill_\($0)" }
        let producing = Task {
            try await relay.produceInvoices(ids, inFlight: 256) { "cus_test_\($0 % RelayCrashTests.customers)" }
        }
        // Three kill points at random moments between 5 % and 85 % of the stream, at least 10 % apart.
        var points: [Int] = []
        while points.count < 3 {
            let point = Int.random(in: 1_000...17_000)
            if points.allSatisfy({ abs($0 - point) >= 2_000 }) { points.append(point) }
        }
        points.sort()
        var kills = 0
        // At each kill (the relay gone): which events Affonso had accepted, and the group's committed offsets.
        var atKills: [(accepted: Set<String>, committed: [KafkaTopicPartition: Int64])] = []
        let partitions = (0..<3).map { KafkaTopicPartition(topic: relay.source, partition: Int32($0)) }
        for point in points {
            let process = try RelayProcess(configuration: { relay.configurationText(listen: $0) })
            let reached = await kafkaEventually(timeout: .seconds(120)) {
                Self.accepted(relay) >= point || !process.isRunning
            }
            #expect(reached && process.isRunning, "relay \(kills + 1) delivered \(Self.accepted(relay)) of \(point)")
            process.signal(SIGKILL)
            #expect(await process.waitForExit(timeout: .seconds(10)) != nil)
            if !reached { break }
            kills += 1
            atKills.append(
                (Set(relay.sandbox.ledger.compactMap(\.externalEventID)), try await relay.committedOffsets(partitions)))
        }
        let written = try await producing.value
        let last = try RelayProcess(configuration: { relay.configurationText(listen: $0) })
        let delivered = await kafkaEventually(timeout: .seconds(180)) { Self.accepted(relay) >= ids.count }
        last.signal(SIGTERM)
        let status = await last.waitForExit(timeout: .seconds(30))
        await last.kill()
        try await relay.stop()

        #expect(kills == 3)
        #expect(delivered, "every event reaches Affonso after three SIGKILLs: \(Self.accepted(relay)) of 20,000")
        let missing = Set(ids).subtracting(relay.sandbox.ledger.compactMap(\.externalEventID))
        #expect(missing.isEmpty, "\(missing.count) missing, e.g. \(missing.sorted().prefix(5))")
        // Each relay commits while it runs (offsets are committed as soon as they advance).
        let committedTotals = atKills.map { $0.committed.values.reduce(0, +) }
        #expect(committedTotals == committedTotals.sorted() && Set(committedTotals).count == committedTotals.count)
        #expect(committedTotals.allSatisfy { $0 > 0 }, "committed at the kills: \(committedTotals)")
        // A restarted relay resumes at the committed offsets: it sends again only what Affonso had accepted at or
        // after them, plus what was in flight at the kill (≤ max_in_flight). (How many that is depends on how far
        // the last commit trailed the acknowledgements, which a loaded machine stretches.)
        let uncommitted = atKills.map { kill in
            kill.accepted.count { id in
                guard let report = written[id] else { return false }
                let partition = KafkaTopicPartition(topic: report.topic, partition: report.partition)
                return report.offset >= kill.committed[partition, default: 0]
            }
        }
        let replays = relay.sandbox.stats.replays
        #expect(
            replays <= uncommitted.reduce(0, +) + 64 * kills,
            "events sent again after the kills: \(replays); accepted but not committed at the kills: \(uncommitted)")
        #expect(status == 0, "SIGTERM ends the last relay cleanly")
        print("sigkill test: kill points \(points), accepted uncommitted \(uncommitted), sandbox replays \(replays)")
    }

    /// Members join and leave while records are produced; each step waits for the group to settle (Tansu 0.6
    /// stalls a group for minutes when a member leaves during another member's join), and the source topic's
    /// partitions are spread evenly over the members at every step (each member also reads the retry tiers).
    @Test func threeRelayProcessesJoiningAndLeavingMidStreamLoseNothing() async throws {
        let relay = try await Self.harness(partitions: 6)
        let ids = (0..<9_000).map { "in_churn_\($0)" }
        let chunks = stride(from: 0, to: ids.count, by: 1_500).map { Array(ids[$0..<min($0 + 1_500, ids.count)]) }
        func produce(_ chunk: Int) -> Task<Void, any Error> {
            Task {
                try await relay.produceInvoices(chunks[chunk], inFlight: 16) {
                    "cus_test_\($0 % RelayCrashTests.customers)"
                }
            }
        }
        func start() throws -> RelayProcess { try RelayProcess(configuration: { relay.configurationText(listen: $0) }) }
        // How many source partitions each member was last assigned (round-robin assigns anew at every rebalance).
        @Sendable func sourcePartitions(_ process: RelayProcess) -> Int {
            guard let line = process.log.split(separator: "\n").last(where: { $0.contains("partitions assigned") })
            else { return 0 }
            return line.components(separatedBy: relay.source + "[").count - 1
        }
        func spread(_ processes: [RelayProcess], each: Int) async -> Bool {
            await kafkaEventually(timeout: .seconds(60)) { processes.allSatisfy { sourcePartitions($0) == each } }
        }
        func assignments(_ processes: [RelayProcess]) -> [Int] { processes.map(sourcePartitions) }
        var producing = [produce(0)]
        let first = try start()
        #expect(await spread([first], each: 6))
        producing.append(produce(1))
        let second = try start()
        #expect(
            await spread([first, second], each: 3), "source partitions per member: \(assignments([first, second]))")
        producing.append(produce(2))
        let third = try start()
        #expect(
            await spread([first, second, third], each: 2),
            "source partitions per member: \(assignments([first, second, third]))")
        producing.append(produce(3))
        first.signal(SIGTERM)
        let firstStatus = await first.waitForExit(timeout: .seconds(30))
        #expect(
            await spread([second, third], each: 3),
            "the leaver's partitions move to the others: \(assignments([second, third]))")
        producing.append(produce(4))
        second.signal(SIGTERM)
        let secondStatus = await second.waitForExit(timeout: .seconds(30))
        #expect(await spread([third], each: 6))
        producing.append(produce(5))
        for task in producing { try await task.value }
        let delivered = await kafkaEventually(timeout: .seconds(120)) { Self.accepted(relay) >= ids.count }
        third.signal(SIGTERM)
        let thirdStatus = await third.waitForExit(timeout: .seconds(30))
        for process in [first, second, third] { await process.kill() }
        try await relay.stop()

        #expect(delivered, "\(Self.accepted(relay)) of 9,000 delivered")
        let ledger = Set(relay.sandbox.ledger.compactMap(\.externalEventID))
        let missing = Set(ids).subtracting(ledger)
        #expect(missing.isEmpty, "\(missing.count) missing, e.g. \(missing.sorted().prefix(5))")
        #expect([firstStatus, secondStatus, thirdStatus] == [0, 0, 0], "each relay leaves cleanly on SIGTERM")
        print("churn test: sandbox replays \(relay.sandbox.stats.replays)")
    }
}
