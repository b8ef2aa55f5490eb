import Testing

@testable import AffonsoAPI

// MARK: - FleetSimulation

/// A deterministic fleet in 10 ms steps: members pace with a token bucket at their ``FleetRateShare`` (as
/// ``RateLimiter`` does), and one server counts like the sandbox (a 60-second window from its first request, a
/// burst bucket refilled at `burst` per second) and answers after `latency` with `X-RateLimit-*`.
struct FleetSimulation {
    typealias Share = FleetRateShare<ManualClock.Instant>

    struct Member {
        var share: Share
        /// This member's clock reads the true time plus `clockOffset`.
        var clockOffset: Duration = .zero
        /// Requests per second it has work for; `.infinity` is a backlog.
        var demand: Double = .infinity
        var isRunning = true
        /// A rebalance in progress: the member holds no partitions and sends nothing until this tick (its bucket
        /// still refills, and answers already on their way still arrive), as the relay's limiter does while it
        /// refuses waits.
        var silentUntilTick = 0
        var tokens: Double = 0
        var work: Double = 0
        var gateUntilTick = 0
        /// Answers on their way: (tick due, limit, remaining, reset).
        var responses: [(due: Int, limit: Int, remaining: Int, reset: Int64)] = []
        var sentPerSecond: [Int: Int] = [:]
    }

    static let ticksPerSecond = 100
    let plan = RateLimit(perMinute: 600, burst: 20)
    let latencyTicks: Int
    var members: [Member] = []
    var tick = 0
    /// Sent and accepted per second, over all members.
    var acceptedPerSecond: [Int: Int] = [:]
    var rejected = 0
    var rejectedAfter: [Int] = []
    private var windowStartTick: Int?
    private var windowCount = 0
    private var serverTokens: Double = 20
    private let epoch: Int64 = 1_800_000_000

    init(latency: Duration = .milliseconds(50)) {
        latencyTicks = Int(latency / .milliseconds(10))
    }

    var second: Int { tick / Self.ticksPerSecond }

    func instant(of member: Int) -> ManualClock.Instant {
        ManualClock.Instant(offset: .milliseconds(tick * 10) + members[member].clockOffset)
    }

    @discardableResult
    mutating func addMember(clockOffset: Duration = .zero, demand: Double = .infinity) -> Int {
        var member = Member(share: Share(plan: plan))
        member.clockOffset = clockOffset
        member.demand = demand
        members.append(member)
        let index = members.count - 1
        members[index].tokens = burstCapacity(of: index)
        return index
    }

    /// What a rebalance does: every running member learns its owned ÷ all source partitions.
    mutating func assign(_ partitions: [Int: Int]) {
        let total = Double(partitions.values.reduce(0, +))
        for (member, owned) in partitions {
            let now = instant(of: member)
            members[member].share.setBaseShare(Double(owned) / total, now: now)
        }
    }

    /// What an eager rebalance does: every running member stops sending for `silence` (the group completing the
    /// join), then learns its owned ÷ all source partitions. Runs the simulation for `silence`.
    mutating func rebalance(_ partitions: [Int: Int], silence: Duration) {
        let ticks = Int(silence / .milliseconds(10))
        for index in members.indices where members[index].isRunning {
            members[index].silentUntilTick = tick + ticks
        }
        for _ in 0..<ticks { step() }
        assign(partitions)
    }

    func share(of member: Int) -> Double { members[member].share.share(now: instant(of: member)) }

    private func burstCapacity(of member: Int) -> Double {
        max(1, (Double(plan.burst) * min(1, share(of: member))).rounded(.down))
    }

    mutating func run(seconds: Int) {
        for _ in 0..<(seconds * Self.ticksPerSecond) { step() }
    }

    private mutating func step() {
        serverTokens = min(Double(plan.burst), serverTokens + Double(plan.burst) / Double(Self.ticksPerSecond))
        for index in members.indices where members[index].isRunning {
            let now = instant(of: index)
            while let first = members[index].responses.first, first.due <= tick {
                members[index].responses.removeFirst()
                // The time to the reset on the true clock (the member's offset cancels: the server's Unix time
                // and the member's clock agree here), as RateLimiter passes it.
                let resetIn = Duration.milliseconds((first.reset - epoch) * 1000 - Int64(tick * 10))
                members[index].share.observe(
                    limit: first.limit, remaining: first.remaining, window: first.reset, resetIn: resetIn, now: now)
            }
            let share = members[index].share.share(now: now)
            let perSecond = Double(plan.perMinute) / 60 * share
            members[index].tokens = min(
                burstCapacity(of: index), members[index].tokens + perSecond / Double(Self.ticksPerSecond))
            let demand = members[index].demand
            members[index].work =
                demand.isInfinite ? 1_000 : min(1_000, members[index].work + demand / Double(Self.ticksPerSecond))
            while members[index].tokens >= 1, members[index].work >= 1, tick >= members[index].gateUntilTick,
                tick >= members[index].silentUntilTick
            {
                members[index].tokens -= 1
                members[index].work -= 1
                send(from: index, now: now)
            }
        }
        tick += 1
    }

    private mutating func send(from member: Int, now: ManualClock.Instant) {
        let windowTicks = 60 * Self.ticksPerSecond
        if windowStartTick.map({ tick >= $0 + windowTicks }) ?? true {
            windowStartTick = tick
            windowCount = 0
        }
        let start = windowStartTick ?? tick
        let reset = epoch + Int64((start + windowTicks + Self.ticksPerSecond - 1) / Self.ticksPerSecond)
        guard windowCount < plan.perMinute, serverTokens >= 1 else {
            rejected += 1
            rejectedAfter.append(second)
            members[member].share.rateLimited(now: now)
            members[member].gateUntilTick = tick + Self.ticksPerSecond
            return
        }
        serverTokens -= 1
        windowCount += 1
        acceptedPerSecond[second, default: 0] += 1
        members[member].sentPerSecond[second, default: 0] += 1
        members[member].responses.append(
            (due: tick + latencyTicks, limit: plan.perMinute, remaining: plan.perMinute - windowCount, reset: reset))
    }

    /// Accepted requests per second over `seconds`, as a fraction of the plan's rate.
    func utilization(_ seconds: Range<Int>) -> Double {
        let accepted = seconds.reduce(0) { $0 + acceptedPerSecond[$1, default: 0] }
        return Double(accepted) / (Double(plan.perMinute) / 60 * Double(seconds.count))
    }

    func sent(by member: Int, _ seconds: Range<Int>) -> Int {
        seconds.reduce(0) { $0 + members[member].sentPerSecond[$1, default: 0] }
    }

    /// Accepted in each 10-second span starting in `starts`, as the fleet benchmark counts them.
    func tenSecondSpans(_ starts: Range<Int>) -> [Int] {
        starts.map { start in (start..<(start + 10)).reduce(0) { $0 + acceptedPerSecond[$1, default: 0] } }
    }
}

// MARK: - Tests

@Suite("FleetRateShare")
struct FleetRateShareTests {
    @Test("an even backlog on three members uses the plan, each a third, with no 429")
    func evenBacklog() {
        var fleet = FleetSimulation()
        for _ in 0..<3 { fleet.addMember() }
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 120)
        #expect(fleet.rejected == 0)
        #expect(fleet.utilization(5..<120) >= 0.97, "\(fleet.utilization(5..<120))")
        for member in 0..<3 {
            let part = Double(fleet.sent(by: member, 5..<120)) / Double(fleet.acceptedPerSecond.values.reduce(0, +))
            #expect(abs(part - 1.0 / 3) < 0.05, "member \(member): \(part)")
        }
    }

    @Test("a skewed backlog (one member has all the work) still uses the plan: the others' rate is borrowed")
    func skewedDemand() {
        var fleet = FleetSimulation()
        fleet.addMember()
        fleet.addMember(demand: 0)
        fleet.addMember(demand: 0)
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 90)
        #expect(fleet.rejected == 0)
        #expect(fleet.utilization(10..<90) >= 0.95, "\(fleet.utilization(10..<90))")
        #expect(fleet.share(of: 0) > 0.9)
        // The idle members keep their base share: they could start at once, and the borrower gives back.
        #expect(abs(fleet.share(of: 1) - 1.0 / 3) < 1e-9)
    }

    @Test("scale-up 1 → 3 with the join's silence: the fleet makes the silence up within the window, no 429")
    func scaleUpCatchesUpTheRebalanceSilence() {
        // The eager rebalance: nobody sends for 3 s while the group completes the join (measured on Tansu).
        var fleet = FleetSimulation()
        fleet.addMember()
        fleet.assign([0: 6])
        fleet.run(seconds: 30)
        fleet.addMember()
        fleet.addMember()
        fleet.rebalance([0: 2, 1: 2, 2: 2], silence: .seconds(3))
        fleet.run(seconds: 40)
        let seconds = (25..<50).map { fleet.acceptedPerSecond[$0, default: 0] }
        #expect(fleet.rejected == 0, "429s at seconds \(fleet.rejectedAfter)")
        // The silence is made up within about 10 s: the span that starts with it holds ≥ 90 % of the plan (without
        // catching up: 70 %; only the member that saw the silence makes it up, at its part), every later one ≥ 97 %.
        // A span that ends in the silence cannot: only a shorter silence helps there.
        let spans = fleet.tenSecondSpans(30..<50)
        #expect(
            spans[0] >= 90 && spans.dropFirst().allSatisfy { $0 >= 97 },
            "10 s spans from 30 s: \(spans); per second from 25 s: \(seconds)")
        #expect(fleet.utilization(20..<50) >= 0.97, "\(fleet.utilization(20..<50))")
        // What was made up came out of the window's room: about the plan over the whole run, not more.
        #expect(fleet.utilization(5..<73) <= 1.01, "\(fleet.utilization(5..<73))")
        // Caught up, the members are back at their thirds.
        for member in 0..<3 { #expect(abs(fleet.share(of: member) - 1.0 / 3) < 0.05, "member \(member)") }
    }

    @Test("two members leave with the rebalance's silence: the one left is at the plan within a few seconds")
    func leaveCatchesUpTheRebalanceSilence() {
        var fleet = FleetSimulation()
        for _ in 0..<3 { fleet.addMember() }
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 30)
        fleet.members[1].isRunning = false
        fleet.members[2].isRunning = false
        fleet.run(seconds: 1)
        fleet.rebalance([0: 6], silence: .seconds(3))
        fleet.run(seconds: 40)
        #expect(fleet.rejected == 0, "429s at seconds \(fleet.rejectedAfter)")
        // From 1 s into the silence on every 10 s span holds ≥ 97 % of the plan (the one starting with it ≥ 90 %):
        // the member's burst after the silence is not given back (it used room the silence left), and the rest of
        // the silence is made up.
        let spans = fleet.tenSecondSpans(31..<64)
        let seconds = (30..<50).map { fleet.acceptedPerSecond[$0, default: 0] }
        #expect(
            spans[0] >= 90 && spans.dropFirst().allSatisfy { $0 >= 97 },
            "10 s spans from 31 s: \(spans); per second from the stop: \(seconds)")
        #expect(fleet.utilization(5..<74) <= 1.01, "\(fleet.utilization(5..<74))")
    }

    @Test("catching up stays within the plan's burst and forgets an old shortfall")
    func catchingUpIsBounded() {
        // One member with nothing to do for 40 s of a window, then a backlog: it may make up at most 10 s of the
        // plan, at most 15/s (three quarters of the burst per second), and the window still holds the plan.
        var fleet = FleetSimulation()
        fleet.addMember(demand: 1)
        fleet.assign([0: 6])
        fleet.run(seconds: 40)
        fleet.members[0].demand = .infinity
        fleet.run(seconds: 40)
        #expect(fleet.rejected == 0, "429s at seconds \(fleet.rejectedAfter)")
        let fastest = (41..<80).map { fleet.acceptedPerSecond[$0, default: 0] }.max() ?? 0
        #expect(fastest <= 17, "at most 15/s while catching up: \(fastest)")
        #expect(fleet.share(of: 0) <= fleet.members[0].share.maximumShare)
        // 40 s at 1/s, then at most 100 made up over the plan's 20 s left of the window.
        let firstWindow = (0..<60).reduce(0) { $0 + fleet.acceptedPerSecond[$1, default: 0] }
        #expect(firstWindow <= 40 + 200 + 100 + 20, "\(firstWindow) in the first window")
        #expect(firstWindow >= 40 + 200 + 50, "the shortfall is made up: \(firstWindow) in the first window")
    }

    @Test("a member that joins takes its share at the rebalance; the fleet stays within the plan")
    func memberJoins() {
        var fleet = FleetSimulation()
        fleet.addMember()
        fleet.addMember()
        fleet.assign([0: 3, 1: 3])
        fleet.run(seconds: 30)
        fleet.addMember()
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 30)
        #expect(fleet.rejected == 0)
        #expect(fleet.utilization(35..<60) >= 0.97, "\(fleet.utilization(35..<60))")
        #expect(fleet.utilization(30..<60) <= 1.01)
        let newcomer = Double(fleet.sent(by: 2, 33..<60)) / (10 * 27)
        #expect(abs(newcomer - 1.0 / 3) < 0.05, "newcomer's part of the plan: \(newcomer)")
    }

    @Test("scaling up from one member to three during a backlog causes no 429 storm and keeps using the plan")
    func scaleUp() {
        var fleet = FleetSimulation()
        fleet.addMember()
        fleet.assign([0: 6])
        fleet.run(seconds: 30)
        fleet.addMember()
        fleet.addMember()
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 30)
        #expect(fleet.rejected <= 5, "429s at seconds \(fleet.rejectedAfter)")
        #expect(fleet.utilization(5..<60) >= 0.97, "\(fleet.utilization(5..<60))")
        // The newcomers' first burst (their fallback share of it) is evened out over the next seconds: every
        // 5-second span around the join carries at least 90 % of the plan.
        let seconds = (25..<45).map { fleet.acceptedPerSecond[$0, default: 0] }
        let spans = (0...(seconds.count - 5)).map { seconds[$0..<($0 + 5)].reduce(0, +) }
        #expect(spans.allSatisfy { $0 >= 45 }, "accepted per second from 25 s: \(seconds)")
        #expect(fleet.utilization(25..<45) >= 0.97, "\(fleet.utilization(25..<45))")
        print("scale-up 1 → 3: \(fleet.rejected) rejected, accepted per second from 25 s: \(seconds)")
    }

    @Test("when two members leave, the one left reaches the plan within a few seconds")
    func membersLeave() {
        var fleet = FleetSimulation()
        for _ in 0..<3 { fleet.addMember() }
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 30)
        fleet.members[1].isRunning = false
        fleet.members[2].isRunning = false
        fleet.assign([0: 6])
        fleet.run(seconds: 30)
        #expect(fleet.rejected == 0)
        #expect(fleet.utilization(33..<60) >= 0.97, "\(fleet.utilization(33..<60))")
    }

    @Test("members that stop before the rebalance: the one left takes their unused rate within 3 s, no 429")
    func membersStopBeforeTheRebalance() {
        // SIGTERM to two of three: they drain and leave, the group rebalances only after that (an eager rebalance
        // waits for every member's revocation), and meanwhile the one left still has its old base share.
        var fleet = FleetSimulation()
        for _ in 0..<3 { fleet.addMember() }
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 30)
        fleet.members[1].isRunning = false
        fleet.members[2].isRunning = false
        fleet.run(seconds: 20)
        #expect(fleet.rejected == 0, "429s at seconds \(fleet.rejectedAfter)")
        let perSecond = (30..<50).map { fleet.acceptedPerSecond[$0, default: 0] }
        #expect(fleet.utilization(33..<50) >= 0.97, "accepted per second from the stop: \(perSecond)")
        #expect(fleet.share(of: 0) > 0.95, "the one left: \(fleet.share(of: 0))")
        // The rebalance then makes the whole plan its base: nothing changes for the API.
        fleet.assign([0: 6])
        fleet.run(seconds: 10)
        #expect(fleet.rejected == 0)
        #expect(fleet.utilization(50..<60) >= 0.97, "\(fleet.utilization(50..<60))")
    }

    @Test("two members with work share what a stalled third leaves, within a few seconds and without a 429")
    func twoBorrowersShareTheUnusedRate() {
        var fleet = FleetSimulation()
        for _ in 0..<3 { fleet.addMember() }
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 20)
        fleet.members[2].demand = 0
        fleet.run(seconds: 20)
        #expect(fleet.rejected == 0, "429s at seconds \(fleet.rejectedAfter)")
        #expect(fleet.utilization(24..<40) >= 0.97, "\(fleet.utilization(24..<40))")
        let first = fleet.sent(by: 0, 24..<40)
        let second = fleet.sent(by: 1, 24..<40)
        #expect(abs(first - second) <= 16, "the two borrowers split it: \(first) and \(second)")
        #expect(fleet.share(of: 0) + fleet.share(of: 1) + fleet.share(of: 2) <= 1.4)
    }

    @Test("a stalled member's rate is borrowed by the others and given back when it resumes")
    func memberStalls() {
        var fleet = FleetSimulation()
        for _ in 0..<3 { fleet.addMember() }
        fleet.assign([0: 2, 1: 2, 2: 2])
        fleet.run(seconds: 20)
        fleet.members[2].demand = 0  // stalled: holds its partitions, sends nothing
        fleet.run(seconds: 30)
        #expect(fleet.utilization(35..<50) >= 0.95, "while stalled: \(fleet.utilization(35..<50))")
        fleet.members[2].demand = .infinity
        fleet.run(seconds: 30)
        #expect(fleet.rejected == 0, "429s at seconds \(fleet.rejectedAfter)")
        #expect(fleet.utilization(55..<80) >= 0.97, "after resuming: \(fleet.utilization(55..<80))")
        let resumed = Double(fleet.sent(by: 2, 55..<80)) / (10 * 25)
        #expect(abs(resumed - 1.0 / 3) < 0.05, "resumed member's part: \(resumed)")
    }

    @Test("with no fleet information members start from the conservative fallback and never burst the plan each")
    func noFleetInformation() {
        var fleet = FleetSimulation()
        for _ in 0..<3 { fleet.addMember() }
        #expect(fleet.share(of: 0) == 1.0 / 6)
        fleet.run(seconds: 1)
        // Each may burst a sixth of 20 at start: together at most half the burst, not three times it.
        #expect(fleet.acceptedPerSecond[0, default: 0] <= 3 * 3 + 5)
        fleet.run(seconds: 59)
        #expect(fleet.rejected == 0, "429s at seconds \(fleet.rejectedAfter)")
        #expect(fleet.utilization(20..<60) >= 0.95, "\(fleet.utilization(20..<60))")
        #expect(fleet.utilization(0..<60) <= 1.0)
    }

    @Test("a lone member with no fleet information still reaches the plan by borrowing")
    func loneMemberWithoutInformation() {
        var fleet = FleetSimulation()
        fleet.addMember()
        fleet.run(seconds: 40)
        #expect(fleet.rejected == 0)
        #expect(fleet.utilization(15..<40) >= 0.95, "\(fleet.utilization(15..<40))")
    }

    @Test(
        "members whose clocks disagree (tens of seconds apart) compute the same shares",
        arguments: [[Duration.zero, .zero, .zero], [.seconds(37), .milliseconds(-12_500), .seconds(-3_600)]])
    func clockSkew(offsets: [Duration]) {
        func run(_ offsets: [Duration]) -> FleetSimulation {
            var fleet = FleetSimulation()
            fleet.addMember(clockOffset: offsets[0])
            fleet.addMember(clockOffset: offsets[1], demand: 2)
            fleet.addMember(clockOffset: offsets[2], demand: 0)
            fleet.assign([0: 2, 1: 2, 2: 2])
            fleet.run(seconds: 60)
            return fleet
        }
        let reference = run([.zero, .zero, .zero])
        let skewed = run(offsets)
        #expect(skewed.acceptedPerSecond == reference.acceptedPerSecond)
        #expect(skewed.rejected == 0)
        #expect(skewed.utilization(15..<60) >= 0.95, "\(skewed.utilization(15..<60))")
    }

    @Test("a 429 ends borrowing for a while; missing headers end the lease")
    func rateLimitedAndLease() {
        let plan = RateLimit(perMinute: 600, burst: 20)
        var share = FleetRateShare<ManualClock.Instant>(plan: plan)
        let start = ManualClock.Instant(offset: .zero)
        share.setBaseShare(0.25, now: start)
        // The fleet counted 2/s, this member sent all of them: it borrows.
        var remaining = 600
        for tick in 0...20 {
            remaining -= 1
            share.observe(
                limit: 600, remaining: remaining, window: 42, now: start.advanced(by: .milliseconds(500 * tick)))
        }
        let borrowed = share.share(now: start.advanced(by: .seconds(10)))
        #expect(borrowed > 0.25)
        // No measurement for longer than the lease: back to the base.
        #expect(share.share(now: start.advanced(by: .seconds(14))) == 0.25)
        share.rateLimited(now: start.advanced(by: .seconds(10)))
        #expect(share.share(now: start.advanced(by: .seconds(10))) == 0.25)
    }

    @Test("the fleet's position in the window: a silence is behind, a new window starts level, a stale one is ignored")
    func positionInTheWindow() {
        let plan = RateLimit(perMinute: 600, burst: 20)
        var share = FleetRateShare<ManualClock.Instant>(plan: plan)
        let start = ManualClock.Instant(offset: .zero)
        share.setBaseShare(1, now: start)
        // 10/s for 10 s: level with the target (9.9/s), a little ahead.
        var consumed = 0
        var now = start
        // Window 7 started with the first request and resets 60 s later.
        func read(_ window: Int64, at time: ManualClock.Instant) {
            let resetIn = .seconds(60) - start.duration(to: time)
            share.observe(limit: 600, remaining: 600 - consumed, window: window, resetIn: resetIn, now: time)
        }
        for _ in 0..<100 {
            consumed += 1
            now = now.advanced(by: .milliseconds(100))
            read(7, at: now)
        }
        #expect(abs((share.pace?.behind ?? .nan) + 1) < 0.5, "\(String(describing: share.pace))")
        #expect(share.share(now: now) <= 1)
        // 3 s of silence (a rebalance; the new assignment keeps the position), then one more response.
        share.setBaseShare(1, now: now)
        now = now.advanced(by: .seconds(3))
        consumed += 1
        read(7, at: now)
        #expect(abs((share.pace?.behind ?? .nan) - 27.7) < 0.5, "\(String(describing: share.pace))")
        // The window's own numbers say the same: 499 left, 47 s at 9.9/s is 465, less the 1 % margin of 6.
        #expect(abs((share.pace?.windowBehind ?? .nan) - 27.7) < 0.5)
        // Sending at the ceiling, the member measures the fleet behind and takes more than the whole plan's rate.
        for _ in 0..<16 {
            consumed += 1
            now = now.advanced(by: .milliseconds(66))
            read(7, at: now)
        }
        #expect(share.share(now: now) > 1, "\(share.view(now: now))")
        #expect(share.share(now: now) <= 1.5)
        #expect(share.view(now: now).reason.contains("catching up"))
        // A response of the previous window, overtaken: ignored.
        let before = share.pace
        read(6, at: now.advanced(by: .milliseconds(10)))
        #expect(share.pace?.window == before?.window && share.pace?.behind == before?.behind)
        // The next window: level again.
        consumed = 1
        read(8, at: now.advanced(by: .milliseconds(20)))
        #expect(share.pace?.window == 8 && share.pace?.behind == 0)
    }

    @Test("a member that first sees the window late does not take the others' early burst for a shortfall")
    func lateObserverIsBoundedByTheWindow() {
        var share = FleetRateShare<ManualClock.Instant>(plan: RateLimit(perMinute: 600, burst: 20))
        let start = ManualClock.Instant(offset: .zero)
        share.setBaseShare(1.0 / 3, now: start)
        // Its first reading: 30 s into the window the fleet used 330 (ahead of the target's 297).
        share.observe(limit: 600, remaining: 270, window: 9, resetIn: .seconds(30), now: start)
        // Then a 3 s silence: on its own clock that is 29.7 behind, but the window is still 3.6 ahead of the
        // target's pace (270 − 1 left for 27 s at 9.9/s is 267.3, plus the margin of 6).
        share.observe(
            limit: 600, remaining: 269, window: 9, resetIn: .seconds(27), now: start.advanced(by: .seconds(3)))
        #expect((share.pace?.behind ?? 0) > 25)
        #expect(share.pace?.shortfall == 0)
        // Without a reset time nothing is made up.
        share.observe(limit: 600, remaining: 268, window: 9, now: start.advanced(by: .seconds(4)))
        #expect(share.pace?.shortfall == 0)
    }

    @Test("a counter whose reset moves with every request (sliding window, token bucket) gives nothing to catch up")
    func movingResetGivesNoPosition() {
        var share = FleetRateShare<ManualClock.Instant>(plan: RateLimit(perMinute: 600, burst: 20))
        let start = ManualClock.Instant(offset: .zero)
        share.setBaseShare(1, now: start)
        var now = start
        for step in 0..<200 {
            now = now.advanced(by: .milliseconds(250))
            // A silence every 20 readings: the fleet would be behind, if there were a window to be behind in.
            if step % 20 == 0 { now = now.advanced(by: .seconds(3)) }
            share.observe(limit: 600, remaining: 590, window: 1_800_000_000 + Int64(step), now: now)
            #expect(share.share(now: now) <= 1)
        }
        #expect(share.pace?.behind == 0)
    }

    @Test("shares outside 0...1 or not finite are clamped; no partitions still leaves the minimum share")
    func clamping() {
        var share = FleetRateShare<ManualClock.Instant>(plan: RateLimit(perMinute: 600, burst: 20))
        let now = ManualClock.Instant(offset: .zero)
        share.setBaseShare(.nan, now: now)
        #expect(share.share(now: now) == 0.02)
        share.setBaseShare(7, now: now)
        #expect(share.share(now: now) == 1)
        share.setBaseShare(0, now: now)
        #expect(share.share(now: now) == 0.02)
        share.setBaseShare(nil, now: now)
        #expect(share.share(now: now) == 1.0 / 6)
    }
}
