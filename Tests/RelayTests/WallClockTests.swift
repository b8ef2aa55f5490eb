import Foundation
import Testing

@testable import Relay

@Suite("WallClock")
struct WallClockTests {
    @Test(
        "formats UTC with milliseconds",
        arguments: [
            (0.0, "1970-01-01T00:00:00.000Z"),
            (951_782_400.5, "2000-02-29T00:00:00.500Z"),
            (1_795_000_000.123, "2026-11-18T11:06:40.123Z"),
            (-1.0, "1969-12-31T23:59:59.000Z"),
        ]
    )
    func format(seconds: Double, expected: String) {
        #expect(WallClock.format(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test(
        "parses RFC 3339 with fractions and offsets, and Kafka milliseconds",
        arguments: [
            ("2026-11-18T11:06:40.123Z", 1_795_000_000.123),
            ("2026-11-18T11:06:40Z", 1_795_000_000),
            ("2026-11-18t11:06:40z", 1_795_000_000),
            ("2026-11-18 11:06:40Z", 1_795_000_000),
            ("2026-11-18T13:06:40+02:00", 1_795_000_000),
            ("2026-11-18T06:36:40.5-04:30", 1_795_000_000.5),
            ("1795000000123", 1_795_000_000.123),
        ]
    )
    func parse(text: String, seconds: Double) throws {
        let date = try #require(WallClock.parse(text))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.0005)
    }

    @Test(
        "rejects what is not a time",
        arguments: [
            "", "tomorrow", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-18T11:06:40",
            "2026-11-18T11:06:40.Z", "2026-11-18T25:00:00Z", "2026-11-18T11:06:40Zjunk",
        ]
    )
    func rejects(text: String) {
        #expect(WallClock.parse(text) == nil)
    }

    @Test("format and parse round-trip to the millisecond", arguments: [1, 2, 3] as [UInt64])
    func roundTrip(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<500 {
            let milliseconds = Int64.random(in: -2_000_000_000_000...9_000_000_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            let parsed = try #require(WallClock.parse(WallClock.format(date)))
            #expect(Int64((parsed.timeIntervalSince1970 * 1000).rounded()) == milliseconds)
        }
    }
}
