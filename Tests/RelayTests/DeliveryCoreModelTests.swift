import KafkaClient
import SeededRandom
import Testing

@testable import Relay

/// The delivery core's decisions (``DeliveryPipeline/State``) driven directly, without a broker or HTTP, through
/// random interleavings of fetches, finished and abandoned sends, held retry records and their release,
/// backpressure, eager revoke-all rebalances, lost partitions, and pause reconciliation with a simulated consumer.
/// Safety is checked after every step, liveness once the faults stop. A failing schedule prints its seed.
@Suite("Delivery core model")
struct DeliveryCoreModelTests {
    typealias State = DeliveryPipeline.State
    typealias Job = KeyedDispatcher<EventJob>.Job

    static let source = (0..<3).map { PartitionID(topic: "billing", partition: Int32($0)) }
    static let retry = PartitionID(topic: "relay.retry.30s", partition: 0)
    static let partitions = source + [retry]

    /// The simulated world: each partition's log, what the consumer fetches, what was committed, and the ground
    /// truth of which records were processed to their end.
    struct World {
        var random: SplitMix64
        var state: State
        /// Records per partition (offsets 0..<count); the retry partition's records may be held.
        var logEnd: [PartitionID: Int64] = [:]
        /// The consumer's next fetch offset per owned partition.
        var position: [PartitionID: Int64] = [:]
        /// What the consumer has paused (executes the core's decisions, never decides).
        var consumerPaused: Set<PartitionID> = []
        var owned: Set<PartitionID> = []
        /// Offsets stored in this assignment, and committed at revokes (what the next owner starts from).
        var stored: [PartitionID: Int64] = [:]
        var committed: [PartitionID: Int64] = [:]
        /// Ground truth: records whose events all finished (delivered or durably routed).
        var complete: Set<RecordCoordinates> = []
        /// Events still unfinished per registered record (a record fetched again after a rebalance has a new
        /// ticket; sends of the old one may still finish, and count: the event was delivered).
        var unfinished: [OffsetTracker.Ticket: Int] = [:]
        var inFlight: [Job] = []
        /// Retry records that are due when released.
        var dueRetryRecords: Set<Int64> = []
        /// The last offset started per ordering lane (partition, key) and assignment: same-key records are sent
        /// in offset order.
        var lastStarted: [String: Int64] = [:]
        var seed: UInt64

        init(seed: UInt64) {
            self.seed = seed
            random = SplitMix64(seed: seed)
            var configuration = DeliveryPipelineConfiguration()
            configuration.delivery = DeliveryConfiguration(maximumInFlight: 4, ordering: .key)
            state = State(configuration: configuration)
            for partition in DeliveryCoreModelTests.partitions {
                logEnd[partition] = Int64(random.next() % 40)
            }
        }

        mutating func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }

        // MARK: Steps

        mutating func assignAll() {
            owned = Set(DeliveryCoreModelTests.partitions)
            for partition in owned {
                position[partition] = committed[partition] ?? 0
                consumerPaused.remove(partition)  // every assignment starts unpaused
            }
            state.assign(Array(owned))
            reconcile()
        }

        /// The consumer hands out the next record of an owned, unpaused partition.
        mutating func fetch() {
            let candidates = owned.filter { !consumerPaused.contains($0) && position[$0]! < logEnd[$0]! }.sorted()
            guard !candidates.isEmpty else { return }
            let partition = candidates[Int(random.next() % UInt64(candidates.count))]
            let offset = position[partition]!
            position[partition] = offset + 1
            let message = KafkaConsumerMessage(
                topic: partition.topic, partition: partition.partition, offset: offset,
                key: Array("k\(random.next() % 3)".utf8), value: [])
            if partition == DeliveryCoreModelTests.retry {
                let due = chance(50)
                if due { dueRetryRecords.insert(offset) }
                switch state.receive(message, notDueFor: due ? nil : .seconds(30)) {
                case .process(let ticket):
                    if let ticket { submit(message, ticket) }
                case .held:
                    // The pause reaches the consumer a little later, sometimes after another fetch.
                    if chance(70) { reconcile() }
                }
            } else if let ticket = state.register(RecordCoordinates(message)) {
                submit(message, ticket)
            }
        }

        mutating func submit(_ message: KafkaConsumerMessage, _ ticket: OffsetTracker.Ticket) {
            let events = Int(random.next() % 3)  // 0: skipped, 1, or 2 (fan-out)
            let jobs = (0..<events).map { _ in
                EventJob(
                    ticket: ticket, source: ticket.coordinates, message: message, envelope: nil, rule: "r",
                    work: .deadLetter(.mapping, "model"))
            }
            if events > 0 { unfinished[ticket] = events } else { complete.insert(ticket.coordinates) }
            perform(state.submit(jobs, for: ticket, key: message.key))
        }

        /// A send ends: acknowledged or durably routed, possibly after its partition was revoked.
        mutating func finishOne() {
            guard !inFlight.isEmpty else { return }
            let job = inFlight.remove(at: Int(random.next() % UInt64(inFlight.count)))
            let ticket = job.element.ticket
            if let count = unfinished[ticket] {
                if count <= 1 {
                    unfinished[ticket] = nil
                    complete.insert(ticket.coordinates)
                } else {
                    unfinished[ticket] = count - 1
                }
            }
            perform(state.finish(job))
        }

        /// The timer of the retry partition fires: due records are released in order.
        mutating func release() {
            let partition = DeliveryCoreModelTests.retry
            guard state.beginRelease(partition) else { return }
            while true {
                let dueOffsets = dueRetryRecords
                let (due, tookAny, _) = state.takeDue(partition) { message in
                    dueOffsets.contains(message.offset) ? nil : .seconds(30)
                }
                // The consumer's task goes on meanwhile: it may hand out a record of this partition now.
                if chance(30) { fetch() }
                for (message, ticket) in due { submit(message, ticket) }
                if !tookAny { break }
            }
            reconcile()
        }

        /// Eager revoke-all (or all lost): drain some in-flight sends, store the final offsets, commit, unassign;
        /// then the group assigns everything again. Sends still in flight go on and finish later.
        mutating func rebalance(lost: Bool) {
            perform(state.beginRevoke(Array(owned)), storing: !lost)
            if !lost {
                for _ in 0..<Int(random.next() % 4) { finishOne() }
            }
            let offsets = state.endRevoke(Array(owned))
            if !lost {
                for (partition, offset) in offsets { store(partition, offset) }
                committed.merge(stored) { max($0, $1) }
            }
            stored = [:]
            owned = []
            position = [:]
            consumerPaused = []
            assignAll()
        }

        /// The driver applies the core's pause decisions to the consumer.
        mutating func reconcile() {
            let (pause, resume, _) = state.pauseChanges(actual: consumerPaused)
            for partition in pause where owned.contains(partition) { consumerPaused.insert(partition) }
            for partition in resume { consumerPaused.remove(partition) }
        }

        mutating func perform(_ actions: State.Actions, storing: Bool = true) {
            for job in actions.start {
                let ticket = job.element.ticket
                let lane = "\(job.partition)/\(job.element.message.key ?? [])/\(ticket.generation)"
                if let last = lastStarted[lane], last > ticket.coordinates.offset {
                    Issue.record("seed \(seed): \(lane): offset \(ticket.coordinates.offset) sent after \(last)")
                }
                lastStarted[lane] = ticket.coordinates.offset
            }
            inFlight.append(contentsOf: actions.start)
            if storing {
                for (partition, offset) in actions.offsetsToStore { store(partition, offset) }
            }
            if actions.pausesChanged { reconcile() }
        }

        mutating func store(_ partition: PartitionID, _ offset: Int64) {
            #expect(owned.contains(partition), "seed \(seed): offset \(offset) stored for \(partition), not owned")
            stored[partition] = max(stored[partition] ?? 0, offset)
        }

        // MARK: Invariants

        /// A stored or committed offset never passes an incomplete record.
        func checkSafety(_ step: Int) -> Bool {
            for (partition, offset) in stored.merging(committed, uniquingKeysWith: max) {
                for record in 0..<offset
                where !complete.contains(RecordCoordinates(partitionID: partition, offset: record)) {
                    Issue.record("seed \(seed), step \(step): \(partition) stored \(offset) past incomplete \(record)")
                    return false
                }
            }
            return true
        }

        /// Once faults stop, everything drains: every partition committed to its end, nothing paused.
        mutating func drain() -> Bool {
            for _ in 0..<20_000 {
                dueRetryRecords.formUnion(0..<(logEnd[DeliveryCoreModelTests.retry] ?? 0))
                release()
                reconcile()
                fetch()
                finishOne()
                let done = owned.allSatisfy { max(stored[$0] ?? 0, committed[$0] ?? 0) == logEnd[$0]! }
                if done && inFlight.isEmpty { break }
            }
            var ok = true
            for partition in owned.sorted() {
                let at = max(stored[partition] ?? 0, committed[partition] ?? 0)
                if at != logEnd[partition]! {
                    Issue.record(
                        "seed \(seed): \(partition) drained to \(at) of \(logEnd[partition]!) (position \(position[partition]!), paused \(consumerPaused.contains(partition)), held \(state.held[partition]?.count ?? 0))"
                    )
                    ok = false
                }
            }
            if !consumerPaused.isEmpty {
                Issue.record("seed \(seed): still paused after the drain: \(consumerPaused.sorted())")
                ok = false
            }
            return ok
        }
    }

    @Test("random schedules: nothing committed past an incomplete record, everything drains (1,000 seeds)")
    func randomSchedules() {
        for seed in UInt64(1)...1_000 {
            var world = World(seed: seed)
            world.assignAll()
            var safe = true
            for step in 0..<300 where safe {
                let roll = world.random.next() % 100
                switch roll {
                case 0..<45: world.fetch()
                case 45..<83: world.finishOne()
                case 83..<92: world.release()
                case 92..<97: world.reconcile()
                case 97..<99: world.rebalance(lost: false)
                default: world.rebalance(lost: true)
                }
                safe = world.checkSafety(step)
            }
            guard safe, world.drain(), world.checkSafety(-1) else {
                Issue.record("failing seed: \(seed)")
                return
            }
        }
    }
}
