import Testing

@testable import Relay

@Suite("Work signal")
struct WorkSignalTests {
    @Test("a signal wakes a waiter; one nobody waited for is kept, up to the maximum")
    func keepsSignalsUpToTheMaximum() async {
        let flag = WorkSignal(maximumPermits: 1)
        flag.signal(5)
        #expect(flag.keptSignals == 1, "a flag keeps one signal, however many came")
        #expect(await flag.wait())
        #expect(flag.keptSignals == 0)
        let counting = WorkSignal()
        counting.signal(3)
        #expect(counting.keptSignals == 3)
        for _ in 0..<3 { #expect(await counting.wait()) }
        let waiter = Task { await counting.wait() }
        counting.signal()
        #expect(await waiter.value)
    }

    @Test("a cancelled waiter returns false and takes no signal")
    func cancelledWaiter() async {
        let signal = WorkSignal()
        let waiter = Task { await signal.wait() }
        waiter.cancel()
        #expect(await waiter.value == false)
        signal.signal()
        #expect(await signal.wait(), "the signal is still there for the next wait")
    }
}
