import SeededRandom
import Testing

@testable import Relay

/// The outage detector and the credentials gate as the delivery core drives them: whatever the API answers,
/// every gate reopens once the API and the key work again.
@Suite("Delivery gates")
struct DeliveryGatesTests {
    typealias State = DeliveryCore
    typealias Answer = State.Answer

    static func state() -> State {
        var configuration = DeliveryPipelineConfiguration()
        configuration.outage = OutageDetector.Configuration(
            windowSize: 4, failureRatio: 0.5, initialProbeInterval: .seconds(1), maximumProbeInterval: .seconds(8))
        configuration.credentialsProbeInterval = .seconds(30)
        return State(configuration: configuration)
    }

    /// Sends requests as the delivery workers do: regular while open, else the probe that is due.
    /// - Returns: the turn taken, or nil when nothing may be sent now.
    static func send(_ state: inout State, _ answer: Answer, at now: ContinuousClock.Instant) -> DeliveryCore.Turn? {
        guard let turn = state.turn(now: now).turn else { return nil }
        _ = state.record(answer, turn: turn, now: now)
        return turn
    }

    /// Whoever is closed has a next probe time (or a probe running): nobody waits for a probe nobody sends.
    static func expectLive(_ state: State, _ context: @autoclosure () -> String) {
        if !state.credentials.isReady {
            #expect(state.credentials.nextProbeTime != nil || state.credentials.isProbing, "\(context())")
        }
        if state.outage.isDown {
            #expect(state.outage.nextProbeTime != nil || state.outage.isProbing, "\(context())")
        }
    }

    /// An API that works and a key that works: enough answered probes reopen everything.
    static func expectReopens(_ state: inout State, from start: ContinuousClock.Instant) {
        var now = start
        for _ in 0..<100 where !state.isDeliveryOpen {
            now += .seconds(31)
            _ = send(&state, .answered, at: now)
        }
        #expect(state.isDeliveryOpen, "outage down: \(state.outage.isDown), key refused: \(!state.credentials.isReady)")
    }

    static let answers: [Answer] = [
        .answered, .refusedKey(status: 401), .refusedKey(status: 403), .unanswered, .abandoned,
    ]

    @Test("a credentials probe answered by anything leaves the gate probing again or open", arguments: answers)
    func credentialsProbe(_ answer: Answer) {
        var state = Self.state()
        let start = ContinuousClock.now
        _ = Self.send(&state, .refusedKey(status: 401), at: start)
        #expect(!state.credentials.isReady)
        #expect(Self.send(&state, answer, at: start + .seconds(30)) == .credentialsProbe)
        Self.expectLive(state, "after a credentials probe answered \(answer)")
        #expect(!state.credentials.isProbing, "the probe was reported: \(answer)")
        Self.expectReopens(&state, from: start + .seconds(30))
    }

    @Test("an outage probe answered by anything leaves the detector probing again or up", arguments: answers)
    func outageProbe(_ answer: Answer) {
        var state = Self.state()
        let start = ContinuousClock.now
        for _ in 0..<4 { _ = Self.send(&state, .unanswered, at: start) }
        #expect(state.outage.isDown)
        #expect(Self.send(&state, answer, at: start + .seconds(1)) == .outageProbe)
        Self.expectLive(state, "after an outage probe answered \(answer)")
        #expect(!state.outage.isProbing, "the probe was reported: \(answer)")
        Self.expectReopens(&state, from: start + .seconds(1))
    }

    @Test("random answers, then a working API: every gate reopens (2,000 seeded schedules)")
    func randomSchedules() {
        for seed in UInt64(1)...2_000 {
            var random = SplitMix64(seed: seed)
            var state = Self.state()
            var now = ContinuousClock.now
            for step in 0..<60 {
                now += .milliseconds(Int64(random.next() % 40_000))
                let answer = Self.answers[Int(random.next() % UInt64(Self.answers.count))]
                _ = Self.send(&state, answer, at: now)
                Self.expectLive(state, "seed \(seed), step \(step), answer \(answer)")
            }
            Self.expectReopens(&state, from: now)
            if !state.isDeliveryOpen {
                Issue.record("seed \(seed): a gate stayed closed")
                return
            }
        }
    }
}
