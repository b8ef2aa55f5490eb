import Testing

@testable import Relay

@Suite("KeyedDispatcher")
struct KeyedDispatcherTests {
    struct Record: Hashable {
        var partition: PartitionID
        var offset: Int64
        var key: String?
    }

    typealias Dispatcher = KeyedDispatcher<Record>

    static func record(_ partition: Int32, _ offset: Int64, key: String?) -> Record {
        Record(partition: .test(partition), offset: offset, key: key)
    }

    /// Submits records and returns the offsets started, as "partition:offset".
    static func submit(_ records: [Record], to dispatcher: inout Dispatcher) -> [Dispatcher.Job] {
        var started: [Dispatcher.Job] = []
        for record in records {
            started +=
                dispatcher.submit(record, partition: record.partition, key: record.key.map { Array($0.utf8) })
                .start
        }
        return started
    }

    static func names(_ jobs: [Dispatcher.Job]) -> [String] {
        jobs.map { "\($0.element.partition.partition):\($0.element.offset)" }
    }

    @Test("at most maximumInFlight run at once; finishing one starts the next in submission order")
    func inFlightLimit() {
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: 2, ordering: .none))
        let started = Self.submit((0..<5).map { Self.record(0, $0, key: nil) }, to: &dispatcher)
        #expect(Self.names(started) == ["0:0", "0:1"])
        #expect(dispatcher.inFlightCount == 2)
        #expect(dispatcher.queuedCount == 3)
        let next = dispatcher.finish(started[1]).start
        #expect(Self.names(next) == ["0:2"])
        #expect(dispatcher.bufferedCount == 4)
    }

    @Test("ordering key: the same key waits for the previous record; other keys run in parallel")
    func keyOrdering() {
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: 10, ordering: .key))
        let started = Self.submit(
            [
                Self.record(0, 0, key: "cus_1"), Self.record(0, 1, key: "cus_2"), Self.record(0, 2, key: "cus_1"),
                Self.record(0, 3, key: "cus_3"), Self.record(0, 4, key: "cus_1"),
            ],
            to: &dispatcher
        )
        #expect(Self.names(started) == ["0:0", "0:1", "0:3"])
        #expect(dispatcher.queuedCount == 2)
        // Finishing another key releases nothing for cus_1.
        #expect(dispatcher.finish(started[1]).start.isEmpty)
        let second = dispatcher.finish(started[0]).start
        #expect(Self.names(second) == ["0:2"])
        let third = dispatcher.finish(second[0]).start
        #expect(Self.names(third) == ["0:4"])
    }

    @Test("ordering key: the same key on different partitions is not ordered across them")
    func keyAcrossPartitions() {
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: 10, ordering: .key))
        let started = Self.submit(
            [Self.record(0, 0, key: "cus_1"), Self.record(1, 0, key: "cus_1")],
            to: &dispatcher
        )
        #expect(Self.names(started) == ["0:0", "1:0"])
    }

    @Test("ordering key: keyless records are ordered by partition and do not hold keyed records")
    func nullKeys() {
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: 10, ordering: .key))
        let started = Self.submit(
            [
                Self.record(0, 0, key: nil), Self.record(0, 1, key: nil), Self.record(0, 2, key: "cus_1"),
                Self.record(1, 0, key: nil),
            ],
            to: &dispatcher
        )
        #expect(Self.names(started) == ["0:0", "0:2", "1:0"])
        #expect(Self.names(dispatcher.finish(started[0]).start) == ["0:1"])
    }

    @Test("ordering partition: one record per partition at a time, partitions in parallel")
    func partitionOrdering() {
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: 10, ordering: .partition))
        let started = Self.submit(
            [
                Self.record(0, 0, key: "a"), Self.record(0, 1, key: "b"), Self.record(1, 7, key: "a"),
                Self.record(1, 8, key: "c"),
            ],
            to: &dispatcher
        )
        #expect(Self.names(started) == ["0:0", "1:7"])
        #expect(Self.names(dispatcher.finish(started[1]).start) == ["1:8"])
        #expect(Self.names(dispatcher.finish(started[0]).start) == ["0:1"])
    }

    @Test("ordering none: everything runs up to the limit")
    func noOrdering() {
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: 10, ordering: .none))
        let started = Self.submit((0..<4).map { Self.record(0, $0, key: "same") }, to: &dispatcher)
        #expect(Self.names(started) == ["0:0", "0:1", "0:2", "0:3"])
    }

    @Test("a lane released while the limit is full waits its turn behind earlier ready records")
    func readyQueueFairness() {
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: 1, ordering: .key))
        let started = Self.submit(
            [Self.record(0, 0, key: "a"), Self.record(0, 1, key: "a"), Self.record(0, 2, key: "b")],
            to: &dispatcher
        )
        #expect(Self.names(started) == ["0:0"])
        let next = dispatcher.finish(started[0]).start
        #expect(Self.names(next) == ["0:2"])
        #expect(Self.names(dispatcher.finish(next[0]).start) == ["0:1"])
    }

    @Test("backpressure pauses once at the threshold and resumes once below the resume threshold")
    func backpressure() {
        var dispatcher = Dispatcher(
            configuration: .init(maximumInFlight: 2, ordering: .none, pauseThreshold: 4, resumeThreshold: 1)
        )
        var changes: [Dispatcher.Backpressure] = []
        var running: [Dispatcher.Job] = []
        for offset in Int64(0)..<6 {
            let action = dispatcher.submit(Self.record(0, offset, key: nil), partition: .test(0), key: nil)
            running += action.start
            changes += action.backpressure.map { [$0] } ?? []
        }
        #expect(changes == [.pause])
        #expect(dispatcher.isPaused)
        while !running.isEmpty {
            let action = dispatcher.finish(running.removeFirst())
            running += action.start
            changes += action.backpressure.map { [$0] } ?? []
        }
        #expect(changes == [.pause, .resume])
        #expect(!dispatcher.isPaused)
        #expect(dispatcher.bufferedCount == 0)
    }

    @Test("default thresholds pause at twice maximumInFlight and resume at maximumInFlight")
    func defaultThresholds() {
        let configuration = Dispatcher.Configuration(maximumInFlight: 64)
        #expect(configuration.pauseThreshold == 128)
        #expect(configuration.resumeThreshold == 64)
        #expect(Dispatcher.Configuration(maximumInFlight: 0).maximumInFlight == 1)
        #expect(
            Dispatcher.Configuration(maximumInFlight: 4, pauseThreshold: 3, resumeThreshold: 9).resumeThreshold == 2)
    }

    @Test("revoke drops the partition's queued records, keeps its in-flight ones, and spares other partitions")
    func revoke() {
        var dispatcher = Dispatcher(
            configuration: .init(maximumInFlight: 2, ordering: .key, pauseThreshold: 5, resumeThreshold: 3)
        )
        let started = Self.submit(
            [
                Self.record(0, 0, key: "a"), Self.record(0, 1, key: "a"), Self.record(0, 2, key: "b"),
                Self.record(1, 0, key: "a"), Self.record(0, 3, key: "c"),
            ],
            to: &dispatcher
        )
        #expect(Self.names(started) == ["0:0", "0:2"])
        #expect(dispatcher.isPaused)
        let (dropped, action) = dispatcher.revoke(.test(0))
        #expect(dropped.map(\.offset) == [1, 3])
        // Two in flight on partition 0 and one queued on partition 1 remain: at the resume threshold.
        #expect(action.backpressure == .resume)
        #expect(dispatcher.inFlightCount == 2)
        #expect(dispatcher.queuedCount == 1)
        #expect(Self.names(dispatcher.finish(started[0]).start) == ["1:0"])
        #expect(dispatcher.finish(started[1]).start.isEmpty)
        #expect(dispatcher.bufferedCount == 1)
    }

    @Test("after a revoke, a new assignment's records with the same key wait for the old in-flight one")
    func revokeThenReassign() {
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: 4, ordering: .key))
        let first = Self.submit([Self.record(0, 0, key: "a"), Self.record(0, 1, key: "a")], to: &dispatcher)
        _ = dispatcher.revoke(.test(0))
        #expect(Self.submit([Self.record(0, 1, key: "a")], to: &dispatcher).isEmpty)
        #expect(Self.names(dispatcher.finish(first[0]).start) == ["0:1"])
    }

    @Test(
        "random completion order keeps every lane in offset order and the limit respected",
        arguments: [DeliveryOrdering.key, .partition, .none]
    )
    func randomizedSimulation(ordering: DeliveryOrdering) {
        var generator = SeededGenerator(seed: 7)
        let limit = 8
        var dispatcher = Dispatcher(configuration: .init(maximumInFlight: limit, ordering: ordering))
        var running: [Dispatcher.Job] = []
        var nextOffset: [Int32: Int64] = [:]
        var lastStarted: [String: Int64] = [:]
        var runningLanes: Set<String> = []
        var startedCount = 0
        var peakInFlight = 0
        var violations: [String] = []
        let keys: [String?] = ["a", "b", "c", nil]

        func laneName(_ record: Record) -> String? {
            switch ordering {
            case .none: nil
            case .partition: "p\(record.partition.partition)"
            default: "p\(record.partition.partition)/\(record.key ?? "<null>")"
            }
        }
        func started(_ jobs: [Dispatcher.Job]) {
            for job in jobs {
                startedCount += 1
                if let lane = laneName(job.element) {
                    if !runningLanes.insert(lane).inserted {
                        violations.append("lane \(lane) ran two records at once")
                    }
                    if let last = lastStarted[lane], last >= job.element.offset {
                        violations.append("lane \(lane) started \(job.element.offset) after \(last)")
                    }
                    lastStarted[lane] = job.element.offset
                }
                running.append(job)
            }
            peakInFlight = max(peakInFlight, dispatcher.inFlightCount)
        }

        for _ in 0..<3000 {
            if running.isEmpty || Bool.random(using: &generator) {
                let partition = Int32.random(in: 0..<3, using: &generator)
                let offset = nextOffset[partition, default: 0]
                nextOffset[partition] = offset + 1
                let record = Self.record(partition, offset, key: keys.randomElement(using: &generator)!)
                started(
                    dispatcher.submit(record, partition: record.partition, key: record.key.map { Array($0.utf8) })
                        .start
                )
            } else {
                let job = running.remove(at: Int.random(in: 0..<running.count, using: &generator))
                if let lane = laneName(job.element) {
                    runningLanes.remove(lane)
                }
                started(dispatcher.finish(job).start)
            }
        }
        while !running.isEmpty {
            let job = running.removeFirst()
            if let lane = laneName(job.element) {
                runningLanes.remove(lane)
            }
            started(dispatcher.finish(job).start)
        }
        #expect(violations.isEmpty)
        // Three partitions: ordering by partition can run at most three at once.
        #expect(peakInFlight == (ordering == .partition ? 3 : limit))
        #expect(startedCount == nextOffset.values.reduce(0) { $0 + Int($1) })
        #expect(dispatcher.bufferedCount == 0)
    }
}
