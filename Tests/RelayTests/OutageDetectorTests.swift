import Testing

@testable import Relay

@Suite("OutageDetector")
struct OutageDetectorTests {
    let start = ContinuousClock.now

    @Test("declares an outage when 80% of the last 20 requests failed transiently")
    func declares() {
        var detector = OutageDetector()
        var actions: [OutageDetector.Action] = []
        // 15 failures out of 20: not yet.
        for index in 0..<20 {
            actions +=
                detector.record(index % 4 == 0 ? .answered : .transientFailure, now: self.start).map { [$0] } ?? []
        }
        #expect(actions.isEmpty)
        #expect(!detector.isDown)
        // The next failure pushes an answer out of the window: 16 of 20.
        #expect(detector.record(.transientFailure, now: self.start) == .stopFetching)
        #expect(detector.isDown)
        #expect(detector.downSince == self.start)
    }

    @Test("a partial window never declares an outage")
    func partialWindow() {
        var detector = OutageDetector(configuration: .init(windowSize: 20))
        for _ in 0..<19 {
            #expect(detector.record(.transientFailure, now: self.start) == nil)
        }
        #expect(detector.record(.transientFailure, now: self.start) == .stopFetching)
    }

    @Test("scattered failures do not trip it")
    func scattered() {
        var detector = OutageDetector()
        for index in 0..<1000 {
            _ = detector.record(index % 3 == 0 ? .answered : .transientFailure, now: self.start)
        }
        #expect(!detector.isDown)
    }

    @Test("probes with a growing, capped interval and recovers on a successful probe")
    func probing() {
        var detector = OutageDetector(
            configuration: .init(
                windowSize: 2,
                failureRatio: 1,
                initialProbeInterval: .seconds(1),
                maximumProbeInterval: .seconds(3)
            )
        )
        _ = detector.record(.transientFailure, now: self.start)
        #expect(detector.record(.transientFailure, now: self.start) == .stopFetching)
        #expect(detector.nextProbeTime == self.start + .seconds(1))
        #expect(detector.startProbeIfDue(now: self.start + .milliseconds(999)) == false)
        // Regular outcomes while down are ignored.
        #expect(detector.record(.answered, now: self.start) == nil)
        #expect(detector.isDown)

        var now = self.start + .seconds(1)
        var gaps: [Duration] = []
        for _ in 0..<4 {
            #expect(detector.startProbeIfDue(now: now) == true)
            #expect(detector.startProbeIfDue(now: now) == false)  // one probe at a time
            #expect(detector.nextProbeTime == nil)
            #expect(detector.recordProbe(.transientFailure, now: now) == nil)
            let next = detector.nextProbeTime!
            gaps.append(next - now)
            now = next
        }
        #expect(gaps == [.seconds(2), .seconds(3), .seconds(3), .seconds(3)])
        #expect(detector.startProbeIfDue(now: now) == true)
        #expect(detector.recordProbe(.answered, now: now) == .resumeFetching)
        #expect(!detector.isDown)
        // The window starts empty after recovery.
        #expect(detector.record(.transientFailure, now: now) == nil)
        #expect(detector.record(.transientFailure, now: now) == .stopFetching)
    }

    @Test("a probe result without a running probe is ignored")
    func strayProbe() {
        var detector = OutageDetector()
        #expect(detector.recordProbe(.answered, now: self.start) == nil)
        #expect(detector.startProbeIfDue(now: self.start) == false)
    }

    @Test("the threshold rounds up: 80% of 7 requests is 6")
    func threshold() {
        #expect(OutageDetector.Configuration(windowSize: 7, failureRatio: 0.8).failureThreshold == 6)
        #expect(OutageDetector.Configuration(windowSize: 20, failureRatio: 0.8).failureThreshold == 16)
    }
}
