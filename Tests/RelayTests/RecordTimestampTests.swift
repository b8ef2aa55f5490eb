import CEL
import Testing

@testable import Relay

@Suite("Kafka record timestamps as CEL timestamps")
struct RecordTimestampTests {
    @Test(
        "milliseconds become seconds and non-negative nanoseconds",
        arguments: [
            (Int64(1_732_546_800_123), Int64(1_732_546_800), Int32(123_000_000)),
            (Int64(0), Int64(0), Int32(0)),
            (Int64(-1500), Int64(-2), Int32(500_000_000)),
            (Int64(-1000), Int64(-1), Int32(0)),
        ]
    )
    func milliseconds(milliseconds: Int64, seconds: Int64, nanos: Int32) {
        #expect(CELTimestamp(milliseconds: milliseconds) == CELTimestamp(seconds: seconds, nanos: nanos))
    }
}
