import CEL
import Rules

import struct Foundation.Date

// MARK: - WallClock

/// RFC 3339 formatting and parsing of wall-clock times, in UTC with millisecond precision, as the
/// `affonso-relay.*` time headers carry them (``RFC3339`` on `Date`s; no locale or platform dependence).
enum WallClock {
    /// `2026-11-25T15:11:02.123Z`.
    static func format(_ date: Date) -> String {
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
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
            return Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        }
        guard let timestamp = RFC3339.parse(text) else { return nil }
        return Date(timeIntervalSince1970: Double(timestamp.seconds) + Double(timestamp.nanos) / 1e9)
    }
}
