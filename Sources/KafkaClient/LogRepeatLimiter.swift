import Synchronization

/// Lets one of a run of identical log lines through per interval, and counts the rest.
///
/// librdkafka repeats a line for every reconnect attempt (`Connect to … failed`, about 20 a second while no broker
/// answers); a log pipeline needs to hear it once, and then how often it kept happening.
final class LogRepeatLimiter: Sendable {
    /// What to do with a line.
    enum Verdict: Equatable {
        /// Log it; `repeated` identical lines were held back since it was last logged.
        case log(repeated: Int)
        /// Hold it back (it is counted).
        case suppress
    }

    private struct Entry {
        var lastLogged: ContinuousClock.Instant
        var suppressed: Int
    }

    /// Shared by every librdkafka client of the process.
    static let librdkafka = LogRepeatLimiter(interval: .seconds(10))

    let interval: Duration
    private let entries = Mutex<[String: Entry]>([:])
    /// Lines remembered at most: the oldest windows are forgotten beyond it.
    private let capacity = 1024

    init(interval: Duration) {
        self.interval = interval
    }

    /// Whether the line identified by `key` is logged now.
    func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Verdict {
        entries.withLock { entries in
            if var entry = entries[key] {
                guard now - entry.lastLogged >= interval else {
                    entry.suppressed += 1
                    entries[key] = entry
                    return .suppress
                }
                entries[key] = Entry(lastLogged: now, suppressed: 0)
                return .log(repeated: entry.suppressed)
            }
            if entries.count >= capacity {
                entries = entries.filter { now - $0.value.lastLogged < interval }
                if entries.count >= capacity { entries.removeAll() }
            }
            entries[key] = Entry(lastLogged: now, suppressed: 0)
            return .log(repeated: 0)
        }
    }
}
