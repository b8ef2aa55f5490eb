import Testing

@testable import Relay

@Suite("FIFOBuffer")
struct FIFOBufferTests {
    @Test("keeps first-in, first-out order across compactions")
    func order() {
        var buffer = FIFOBuffer<Int>()
        var expected = 0
        var next = 0
        for round in 0..<50 {
            for _ in 0..<(100 + round * 37) {
                buffer.append(next)
                next += 1
            }
            for _ in 0..<(90 + round * 30) {
                #expect(buffer.removeFirst() == expected)
                expected += 1
            }
        }
        #expect(buffer.count == next - expected)
        #expect(buffer.first == expected)
        #expect(buffer.last == next - 1)
        #expect(Array(buffer.elements) == Array(expected..<next))
    }

    /// A job holds its record (up to megabytes): a queue that is never empty must not keep handed-out jobs alive.
    @Test("a removed element is released at once, while the buffer still holds others")
    func releasesRemoved() {
        final class Payload {}
        var buffer = FIFOBuffer<Payload>()
        weak var handedOut: Payload?
        do {
            let payload = Payload()
            handedOut = payload
            buffer.append(payload)
        }
        for _ in 0..<3 { buffer.append(Payload()) }
        _ = buffer.removeFirst()
        #expect(handedOut == nil, "the removed element is still referenced by the buffer")
        #expect(buffer.count == 3)
    }

    @Test("removeAll(where:) keeps the order of the rest and returns the removed in order")
    func removeWhere() {
        var buffer = FIFOBuffer<Int>()
        for value in 0..<10 { buffer.append(value) }
        _ = buffer.removeFirst()
        let removed = buffer.removeAll { $0 % 3 == 0 }
        #expect(removed == [3, 6, 9])
        #expect(Array(buffer.elements) == [1, 2, 4, 5, 7, 8])
        #expect(buffer[2] == 4)
        #expect(buffer.popFirst() == 1)
    }

    @Test("an emptied buffer is empty")
    func empty() {
        var buffer = FIFOBuffer<String>()
        #expect(buffer.isEmpty)
        #expect(buffer.popFirst() == nil)
        buffer.append("a")
        _ = buffer.removeFirst()
        #expect(buffer.isEmpty)
        #expect(buffer.first == nil)
    }
}
