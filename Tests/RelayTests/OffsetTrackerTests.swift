import Testing

@testable import Relay

extension OffsetTracker {
    mutating func registered(
        _ partition: PartitionID,
        _ offset: Int64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Ticket {
        let ticket = self.register(RecordCoordinates(partitionID: partition, offset: offset))
        return try #require(ticket, sourceLocation: sourceLocation)
    }
}

@Suite("OffsetTracker")
struct OffsetTrackerTests {
    let p0 = PartitionID.test(0)
    let p1 = PartitionID.test(1)

    @Test("partitions are tracked independently")
    func independentPartitions() throws {
        var tracker = OffsetTracker()
        tracker.assign(self.p0, position: 0)
        tracker.assign(self.p1, position: 500)
        let a = try tracker.registered(self.p0, 0)
        let b = try tracker.registered(self.p1, 500)
        let c = try tracker.registered(self.p1, 501)
        #expect(tracker.totalIncompleteCount == 3)
        #expect(tracker.incompleteCount(for: self.p1) == 2)
        #expect(tracker.complete(c) == .pending)
        #expect(tracker.complete(a) == .advanced(to: 1))
        #expect(tracker.committableOffset(for: self.p1) == 500)
        #expect(tracker.complete(b) == .advanced(to: 502))
        #expect(tracker.totalIncompleteCount == 0)
    }

    @Test("records of a partition that is not assigned are refused")
    func unassigned() {
        var tracker = OffsetTracker()
        #expect(tracker.register(RecordCoordinates(partitionID: self.p0, offset: 0)) == nil)
        #expect(tracker.revoke(self.p0) == nil)
        #expect(tracker.committableOffset(for: self.p0) == nil)
    }

    @Test("revoke returns the final committable offset and drops the incomplete records")
    func revoke() throws {
        var tracker = OffsetTracker()
        tracker.assign(self.p0, position: 10)
        var tickets: [OffsetTracker.Ticket] = []
        for offset in Int64(10)..<15 {
            tickets.append(try tracker.registered(self.p0, offset))
        }
        _ = tracker.complete(tickets[0])
        _ = tracker.complete(tickets[1])
        _ = tracker.complete(tickets[3])
        let result = tracker.revoke(self.p0)
        let revocation = try #require(result)
        #expect(revocation.committableOffset == 12)
        #expect(revocation.incompleteCount == 2)
        #expect(tracker.totalIncompleteCount == 0)
        #expect(tracker.assignedPartitions.isEmpty)
        // A late completion after the revoke changes nothing.
        #expect(tracker.complete(tickets[2]) == .ignored)
    }

    @Test("reassignment starts fresh at the new position; completions from the old assignment are ignored")
    func reassignment() throws {
        var tracker = OffsetTracker()
        tracker.assign(self.p0, position: 0)
        let old = try tracker.registered(self.p0, 0)
        _ = tracker.revoke(self.p0)
        tracker.assign(self.p0, position: 0)
        let new = try tracker.registered(self.p0, 0)
        #expect(old != new)
        #expect(tracker.complete(old) == .ignored)
        #expect(tracker.committableOffset(for: self.p0) == 0)
        #expect(tracker.totalIncompleteCount == 1)
        #expect(tracker.complete(new) == .advanced(to: 1))
    }

    @Test("a late ticket of a revoked partition cannot complete a record of the partition that took its place")
    func slotReuse() throws {
        var tracker = OffsetTracker()
        tracker.assign(self.p0, position: 0)
        let stale = try tracker.registered(self.p0, 0)
        _ = tracker.revoke(self.p0)
        tracker.assign(self.p1, position: 0)
        let fresh = try tracker.registered(self.p1, 0)
        #expect(tracker.complete(stale) == .ignored)
        #expect(tracker.incompleteCount(for: self.p1) == 1)
        #expect(tracker.complete(fresh) == .advanced(to: 1))
        #expect(tracker.assignedPartitions == [self.p1])
    }

    @Test("assigning an assigned partition again replaces its state without leaking counts")
    func assignTwice() throws {
        var tracker = OffsetTracker()
        tracker.assign(self.p0, position: 0)
        _ = try tracker.registered(self.p0, 0)
        tracker.assign(self.p0, position: 40)
        #expect(tracker.totalIncompleteCount == 0)
        #expect(tracker.committableOffset(for: self.p0) == 40)
    }

    @Test("uncommitted offsets list only partitions whose offset moved since the last commit")
    func uncommitted() throws {
        var tracker = OffsetTracker()
        tracker.assign(self.p0, position: 0)
        tracker.assign(self.p1, position: 0)
        #expect(tracker.uncommittedOffsets().isEmpty)
        let ticket = try tracker.registered(self.p0, 0)
        _ = tracker.complete(ticket)
        #expect(tracker.uncommittedOffsets() == [self.p0: 1])
        tracker.markCommitted([self.p0: 1])
        #expect(tracker.uncommittedOffsets().isEmpty)
        // A stale commit result cannot move it backwards and make it look uncommitted.
        tracker.markCommitted([self.p0: 0])
        #expect(tracker.uncommittedOffsets().isEmpty)
        let next = try tracker.registered(self.p0, 1)
        _ = tracker.complete(next)
        #expect(tracker.uncommittedOffsets() == [self.p0: 2])
    }

    @Test("an unknown position is committed only after the first record is known")
    func unknownPosition() throws {
        var tracker = OffsetTracker()
        tracker.assign(self.p0, position: nil)
        #expect(tracker.uncommittedOffsets().isEmpty)
        let ticket = try tracker.registered(self.p0, 30)
        #expect(tracker.uncommittedOffsets() == [self.p0: 30])
        _ = tracker.complete(ticket)
        #expect(tracker.uncommittedOffsets() == [self.p0: 31])
        #expect(tracker.revoke(self.p0)?.committableOffset == 31)
    }

    @Test("idle advance moves a partition's offset past trailing transaction markers")
    func idleAdvance() throws {
        var tracker = OffsetTracker()
        tracker.assign(self.p0, position: 0)
        let ticket = try tracker.registered(self.p0, 0)
        #expect(tracker.advanceIdle(self.p0, to: 2) == nil)
        _ = tracker.complete(ticket)
        #expect(tracker.advanceIdle(self.p0, to: 2) == 2)
        #expect(tracker.uncommittedOffsets() == [self.p0: 2])
        #expect(tracker.advanceIdle(self.p1, to: 2) == nil)
    }
}
