import Testing

@testable import Relay

@Suite("FetchGate")
struct FetchGateTests {
    let p0 = PartitionID.test(0)
    let p1 = PartitionID.test(1)
    let retry = PartitionID(topic: "affonso-relay.retry.30s", partition: 0)

    @Test("a global reason pauses every partition and its release resumes them")
    func global() {
        var gate = FetchGate()
        #expect(gate.assign([self.p1, self.p0]).isEmpty)
        #expect(gate.pauseAll(for: .backpressure) == .init(pause: [self.p0, self.p1], resume: []))
        #expect(gate.pauseAll(for: .backpressure).isEmpty)
        #expect(gate.resumeAll(for: .backpressure) == .init(pause: [], resume: [self.p0, self.p1]))
        #expect(!gate.isPaused(self.p0))
    }

    @Test("a partition resumes only when no reason holds it")
    func overlappingReasons() {
        var gate = FetchGate()
        _ = gate.assign([self.p0, self.retry])
        #expect(gate.pause(self.retry, for: .notBefore) == .init(pause: [self.retry], resume: []))
        #expect(gate.pauseAll(for: .apiOutage) == .init(pause: [self.p0], resume: []))
        #expect(gate.pauseAll(for: .credentials).isEmpty)
        #expect(gate.reasons(for: self.retry) == [.notBefore, .apiOutage, .credentials])
        #expect(gate.resumeAll(for: .apiOutage).isEmpty)
        #expect(gate.resumeAll(for: .credentials) == .init(pause: [], resume: [self.p0]))
        #expect(gate.pausedPartitions == [self.retry])
        #expect(gate.resume(self.retry, for: .notBefore) == .init(pause: [], resume: [self.retry]))
    }

    @Test("a partition assigned during an outage starts paused; revoked partitions are forgotten")
    func assignmentWhileHeld() {
        var gate = FetchGate()
        _ = gate.assign([self.p0])
        _ = gate.pauseAll(for: .apiOutage)
        #expect(gate.assign([self.p1]) == .init(pause: [self.p1], resume: []))
        gate.revoke([self.p0])
        #expect(!gate.isPaused(self.p0))
        #expect(gate.resumeAll(for: .apiOutage) == .init(pause: [], resume: [self.p1]))
        #expect(gate.pause(self.p0, for: .notBefore).isEmpty)
    }
}
