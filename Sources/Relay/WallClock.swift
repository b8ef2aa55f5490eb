import CEL
import Rules

import struct Foundation.Date

// MARK: - WallClock

/// RFC 3339 formatting and parsing of wall-clock times, in UTC with millisecond precision, as the
/// `affonso-relay.*` time headers carry them (``RFC3339`` on `Date`s; no locale or platform dependence).
enum WallClock {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in milliseconds since 1970: the times RFC 3339 (four-digit
    /// years) and CEL can express. Times from outside (Kafka timestamps, headers) are clamped into this range.
    static let millisecondRange: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// The date moved into ``millisecondRange`` (a non-finite one to its nearer end).
    static func clamped(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds(date)) / 1000)
    }

    /// Milliseconds since 1970, clamped into ``millisecondRange``; never traps.
    static func milliseconds(_ date: Date) -> Int64 {
        let value = (date.timeIntervalSince1970 * 1000).rounded()
        guard value.isFinite else { return value < 0 ? millisecondRange.lowerBound : millisecondRange.upperBound }
        if value <= Double(millisecondRange.lowerBound) { return millisecondRange.lowerBound }
        if value >= Double(millisecondRange.upperBound) { return millisecondRange.upperBound }
        return Int64(value)
    }

    /// A Kafka timestamp (milliseconds since 1970, any `Int64`) as a date inside ``millisecondRange``.
    static func date(milliseconds: Int64) -> Date {
        let clamped = min(max(milliseconds, millisecondRange.lowerBound), millisecondRange.upperBound)
        return Date(timeIntervalSince1970: Double(clamped) / 1000)
    }

    /// `2026-11-25T15:11:02.123Z`; a time outside years 1–9999 is written as the nearer end of that range.
    static func format(_ date: Date) -> String {
        let totalMilliseconds = milliseconds(date)
        var (seconds, milliseconds) = totalMilliseconds.quotientAndRemainder(dividingBy: 1000)
        if milliseconds < 0 {
            seconds -= 1
            milliseconds += 1000
        }
        return RFC3339.format(
            CELTimestamp(seconds: seconds, nanos: Int32(milliseconds) * 1_000_000), milliseconds: true)
    }

    /// Parses RFC 3339 (`2026-11-25T15:11:02Z`, fractional seconds and `±hh:mm` offsets allowed, `t`/`z` and a
    /// space separator tolerated), or a whole number of milliseconds since 1970 (Kafka's timestamp unit).
    static func parse(_ text: String) -> Date? {
        if let milliseconds = Int64(text) {
            return date(milliseconds: milliseconds)
        }
        guard let timestamp = RFC3339.parse(text) else { return nil }
        return Date(timeIntervalSince1970: Double(timestamp.seconds) + Double(timestamp.nanos) / 1e9)
    }
}
