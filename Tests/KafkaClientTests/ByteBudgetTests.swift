import Synchronization
import Testing

@testable import KafkaClient

/// The one byte budget every record the relay holds draws from.
@Suite(.timeLimit(.minutes(1)))
struct ByteBudgetTests {
    /// Starts `reserve(bytes)` in a task and reports when it was granted.
    final class Request: Sendable {
        let task: Task<ByteBudget.Reservation, any Error>
        private let granted: Box<Bool>

        init(_ budget: ByteBudget, _ bytes: Int) {
            let granted = Box(false)
            self.granted = granted
            task = Task {
                let reservation = try await budget.reserve(bytes)
                granted.value.withLock { $0 = true }
                return reservation
            }
        }

        var isGranted: Bool { granted.value.withLock { $0 } }
    }

    final class Box<Value: Sendable>: Sendable {
        let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
    }

    /// Waits until `count` requests wait in `budget`: after that, a request not granted yet was not granted for
    /// want of room, however slowly the machine ran it.
    private func waitUntilWaiting(_ budget: ByteBudget, _ count: Int) async {
        let queued = await eventually(timeout: .seconds(30)) { budget.waitingCount == count }
        #expect(queued, "\(budget.waitingCount) requests waiting, not \(count)")
    }

    @Test func aRequestThatDoesNotFitWaitsAndAReleaseWakesIt() async throws {
        let budget = ByteBudget(limit: 1_000)
        var first: ByteBudget.Reservation? = try await budget.reserve(700)
        #expect(budget.reservedBytes == 700)
        let second = Request(budget, 400)
        await waitUntilWaiting(budget, 1)
        #expect(!second.isGranted, "400 bytes do not fit in the 300 left")
        #expect(budget.tryReserve(100) == nil, "a later request does not overtake the waiting one")
        _ = first
        first = nil
        let reservation = try await second.task.value
        #expect(reservation.bytes == 400)
        #expect(budget.reservedBytes == 400)
    }

    @Test func aRecordLargerThanTheWholeBudgetPassesAlone() async throws {
        let budget = ByteBudget(limit: 1_000)
        var small: ByteBudget.Reservation? = budget.tryReserve(10)
        #expect(small != nil)
        #expect(budget.tryReserve(5_000) == nil, "not beside another record")
        var huge: Request? = Request(budget, 5_000)
        await waitUntilWaiting(budget, 1)
        #expect(huge?.isGranted == false)
        _ = small
        small = nil
        var reservation: ByteBudget.Reservation? = try await huge?.task.value
        huge = nil  // the task keeps its result too
        #expect(budget.reservedBytes == 5_000)
        #expect(budget.availableBytes == 0)
        #expect(budget.tryReserve(1) == nil, "nothing else while the large record is held")
        _ = reservation
        reservation = nil
        #expect(budget.reservedBytes == 0)
        #expect(budget.tryReserve(1_000) != nil)
    }

    @Test func waitingRequestsAreGrantedInOrder() async throws {
        let budget = ByteBudget(limit: 100)
        var held: ByteBudget.Reservation? = budget.tryReserve(100)
        let order = Box<[Int]>([])
        var tasks: [Task<Void, any Error>] = []
        for index in 0..<5 {
            tasks.append(
                Task {
                    let reservation = try await budget.reserve(60)
                    order.value.withLock { $0.append(index) }
                    try await Task.sleep(for: .milliseconds(10))
                    _ = reservation
                })
            // Each request queues before the next is made: they wait in index order.
            await waitUntilWaiting(budget, index + 1)
        }
        #expect(order.value.withLock { $0 }.isEmpty)
        _ = held
        held = nil
        for task in tasks { try await task.value }
        #expect(order.value.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(budget.reservedBytes == 0)
    }

    @Test func aCancelledWaiterGivesWayToTheNext() async throws {
        let budget = ByteBudget(limit: 100)
        var held: ByteBudget.Reservation? = budget.tryReserve(90)
        let cancelled = Request(budget, 80)
        await waitUntilWaiting(budget, 1)
        let next = Request(budget, 10)
        await waitUntilWaiting(budget, 2)
        #expect(!next.isGranted, "behind the waiting 80 bytes")
        cancelled.task.cancel()
        let reservation = try await next.task.value
        #expect(reservation.bytes == 10)
        await #expect(throws: CancellationError.self) { try await cancelled.task.value }
        _ = held
        held = nil
        #expect(budget.reservedBytes == 10)
    }

    @Test func aRefusedSynchronousRequestIsSignalledOnceThereIsRoom() async throws {
        let budget = ByteBudget(limit: 100)
        let signals = Mutex(0)
        budget.onRoom { signals.withLock { $0 += 1 } }
        var reservations = [budget.tryReserve(50), budget.tryReserve(50)]
        #expect(budget.tryReserve(30) == nil)
        reservations.removeLast()
        #expect(signals.withLock { $0 } == 1, "30 bytes fit now")
        #expect(budget.tryReserve(30) != nil)
        reservations.removeAll()
        #expect(signals.withLock { $0 } == 1, "nothing was refused since")
    }
}
