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

    func share(of member: Int) -> Double { members[member].share.share(now: instant(of: member)) }

    private func burstCapacity(of member: Int) -> Double {
        max(1, (Double(plan.burst) * share(of: member)).rounded(.down))
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
                members[index].share.observe(
                    limit: first.limit, remaining: first.remaining, window: first.reset, now: now)
            }
            let share = members[index].share.share(now: now)
            let perSecond = Double(plan.perMinute) / 60 * share
            members[index].tokens = min(
                burstCapacity(of: index), members[index].tokens + perSecond / Double(Self.ticksPerSecond))
            let demand = members[index].demand
            members[index].work =
                demand.isInfinite ? 1_000 : min(1_000, members[index].work + demand / Double(Self.ticksPerSecond))
            while members[index].tokens >= 1, members[index].work >= 1, tick >= members[index].gateUntilTick {
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
