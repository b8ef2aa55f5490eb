import Testing

@testable import Relay

@Suite("PartitionOffsets")
struct PartitionOffsetsTests {
    @Test("starts at the fetch position and commits nothing before the first record completes")
    func startsAtPosition() {
        var offsets = PartitionOffsets(position: 100)
        #expect(offsets.committableOffset == 100)
        offsets.register(offset: 100)
        offsets.register(offset: 101)
        #expect(offsets.committableOffset == 100)
        #expect(offsets.incompleteCount == 2)
    }

    @Test("in-order completion advances one by one")
    func inOrder() {
        var offsets = PartitionOffsets(position: 0)
        for offset in Int64(0)..<5 { offsets.register(offset: offset) }
        for offset in Int64(0)..<5 {
            #expect(offsets.complete(offset: offset) == .advanced(to: offset + 1))
        }
        #expect(offsets.incompleteCount == 0)
        #expect(offsets.trackedCount == 0)
    }

    @Test("never commits past an incomplete record; jumps when the hole fills")
    func outOfOrder() {
        var offsets = PartitionOffsets(position: 10)
        for offset in Int64(10)..<15 { offsets.register(offset: offset) }
        #expect(offsets.complete(offset: 12) == .pending)
        #expect(offsets.complete(offset: 14) == .pending)
        #expect(offsets.complete(offset: 11) == .pending)
        #expect(offsets.committableOffset == 10)
        #expect(offsets.complete(offset: 10) == .advanced(to: 13))
        #expect(offsets.committableOffset == 13)
        #expect(offsets.incompleteCount == 1)
        #expect(offsets.complete(offset: 13) == .advanced(to: 15))
    }

    @Test("offset gaps (compaction, transaction markers) never block the commit")
    func gaps() {
        var offsets = PartitionOffsets(position: 100)
        // 100…104 were compacted away; 106 and 108 are transaction markers.
        for offset: Int64 in [105, 107, 109, 110] { offsets.register(offset: offset) }
        #expect(offsets.complete(offset: 107) == .pending)
        #expect(offsets.complete(offset: 105) == .advanced(to: 108))
        #expect(offsets.complete(offset: 110) == .pending)
        #expect(offsets.complete(offset: 109) == .advanced(to: 111))
        #expect(offsets.trackedCount == 0)
    }

    @Test("completing a gap offset, a duplicate or an unknown offset is ignored")
    func ignored() {
        var offsets = PartitionOffsets(position: 0)
        for offset: Int64 in [0, 2, 4] { offsets.register(offset: offset) }
        #expect(offsets.complete(offset: 1) == .ignored)
        #expect(offsets.complete(offset: 3) == .ignored)
        #expect(offsets.complete(offset: 99) == .ignored)
        #expect(offsets.complete(offset: 2) == .pending)
        #expect(offsets.complete(offset: 2) == .ignored)
        #expect(offsets.incompleteCount == 2)
        #expect(offsets.complete(offset: 0) == .advanced(to: 3))
        #expect(offsets.complete(offset: 0) == .ignored)
        #expect(offsets.committableOffset == 3)
    }

    @Test("a re-delivered (lower) offset is refused")
    func backwards() {
        var offsets = PartitionOffsets(position: 50)
        #expect(offsets.register(offset: 49) == false)
        #expect(offsets.register(offset: 50) == true)
        #expect(offsets.register(offset: 50) == false)
        #expect(offsets.register(offset: 53) == true)
        #expect(offsets.register(offset: 52) == false)
        #expect(offsets.incompleteCount == 2)
    }

    @Test("an unknown position is set by the first record")
    func unknownPosition() {
        var offsets = PartitionOffsets(position: nil)
        #expect(offsets.committableOffset == nil)
        offsets.register(offset: 7)
        #expect(offsets.committableOffset == 7)
        #expect(offsets.complete(offset: 7) == .advanced(to: 8))
    }

    @Test("idle advance moves past trailing markers only when nothing is in flight")
    func idleAdvance() {
        var offsets = PartitionOffsets(position: 0)
        offsets.register(offset: 0)
        #expect(offsets.advanceIdle(to: 3) == nil)
        #expect(offsets.committableOffset == 0)
        _ = offsets.complete(offset: 0)
        #expect(offsets.advanceIdle(to: 3) == 3)
        #expect(offsets.committableOffset == 3)
        #expect(offsets.advanceIdle(to: 2) == nil)
        #expect(offsets.register(offset: 2) == false)
        #expect(offsets.register(offset: 3) == true)
    }

    @Test("random completion order over many records matches a reference model", arguments: [1, 2, 3, 42] as [UInt64])
    func randomizedAgainstModel(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var offsets = PartitionOffsets(position: 1000)
        var fetched: [Int64] = []
        var next: Int64 = 1000
        for _ in 0..<2000 {
            next += Int64.random(in: 0...2, using: &generator) == 0 ? 2 : 1  // a third of offsets are gaps
            fetched.append(next)
            offsets.register(offset: next)
        }
        var completed: Set<Int64> = []
        for offset in fetched.shuffled(using: &generator) {
            _ = offsets.complete(offset: offset)
            completed.insert(offset)
            // Reference: one past the last fetched offset before the first incomplete one.
            var expected: Int64 = 1000
            for candidate in fetched {
                guard completed.contains(candidate) else { break }
                expected = candidate + 1
            }
            #expect(offsets.committableOffset == expected)
        }
        #expect(offsets.committableOffset == fetched.last! + 1)
        #expect(offsets.trackedCount == 0)
    }

    @Test("memory is released as the front completes: a million records in a sliding window")
    func boundedMemory() async {
        var offsets = PartitionOffsets(position: 0)
        let window: Int64 = 256
        var largestTracked = 0
        for offset in Int64(0)..<1_000_000 {
            offsets.register(offset: offset)
            if offset >= window {
                _ = offsets.complete(offset: offset - window)
            }
            largestTracked = max(largestTracked, offsets.trackedCount)
            // Seconds of bookkeeping on a loaded 2-core machine: let the tests waiting on deadlines run meanwhile.
            if offset % 10_000 == 9_999 { await Task.yield() }
        }
        #expect(largestTracked == Int(window))
        #expect(offsets.committableOffset == 1_000_000 - window)
    }
}
