import Testing

@testable import Relay

@Suite("CredentialsGate")
struct CredentialsGateTests {
    let start = ContinuousClock.now

    @Test("the first 401 stops fetching once; later faults are quiet")
    func faultOnce() {
        var gate = CredentialsGate()
        #expect(gate.isReady)
        #expect(gate.recordFault(status: 401, now: self.start) == .stopFetching(status: 401))
        #expect(gate.recordFault(status: 401, now: self.start + .seconds(1)) == nil)
        #expect(gate.recordFault(status: 403, now: self.start + .seconds(2)) == nil)
        #expect(!gate.isReady)
        #expect(gate.faultStatus == 401)
        #expect(gate.faultedSince == self.start)
    }

    @Test("probes every 30 s until the key works, then resumes")
    func probes() {
        var gate = CredentialsGate()
        _ = gate.recordFault(status: 403, now: self.start)
        #expect(gate.startProbeIfDue(now: self.start + .seconds(29)) == false)
        #expect(gate.startProbeIfDue(now: self.start + .seconds(30)) == true)
        #expect(gate.startProbeIfDue(now: self.start + .seconds(30)) == false)
        #expect(gate.recordProbe(authorized: false, status: 401, now: self.start + .seconds(31)) == nil)
        #expect(gate.faultStatus == 401)
        #expect(gate.nextProbeTime == self.start + .seconds(61))
        #expect(!gate.isReady)
        #expect(gate.startProbeIfDue(now: self.start + .seconds(61)) == true)
        #expect(gate.recordProbe(authorized: true, now: self.start + .seconds(62)) == .resumeFetching)
        #expect(gate.isReady)
        #expect(gate.faultStatus == nil)
    }

    @Test("an authorized regular response clears the fault; when healthy it is a no-op")
    func authorizedClears() {
        var gate = CredentialsGate(probeInterval: .seconds(5))
        #expect(gate.recordAuthorized() == nil)
        _ = gate.recordFault(status: 401, now: self.start)
        #expect(gate.recordAuthorized() == .resumeFetching)
        #expect(gate.isReady)
        #expect(gate.recordFault(status: 401, now: self.start) == .stopFetching(status: 401))
        #expect(gate.nextProbeTime == self.start + .seconds(5))
    }

    @Test("a probe result without a running probe is ignored")
    func strayProbe() {
        var gate = CredentialsGate()
        #expect(gate.recordProbe(authorized: true, now: self.start) == nil)
        _ = gate.recordFault(status: 401, now: self.start)
        #expect(gate.recordProbe(authorized: true, now: self.start) == nil)
        #expect(!gate.isReady)
    }
}
