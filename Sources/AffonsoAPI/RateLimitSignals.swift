import Foundation

// MARK: - RateLimitSignals

/// What a response says about when to send again (`Retry-After`, `error.retryAfter`, `X-RateLimit-*`), parsed
/// defensively: the API's values are input like any other.
///
/// Pure functions, no I/O. Nothing here traps: non-finite, negative, huge, non-ASCII or malformed values are
/// ignored or clamped, every wait lies in `0...maximumWait` (`affonso.max_retry_after`), and each odd value is
/// reported as an ``OddValue`` so the client can log it (once per field).
enum RateLimitSignals {
    /// A value the API sent that was out of range or unreadable, and what the client did instead.
    struct OddValue: Sendable, Hashable, CustomStringConvertible {
        /// Where it came from: `Retry-After`, `error.retryAfter`, `X-RateLimit-Reset`, ….
        var field: String
        /// The value as sent, shortened and with anything but printable ASCII escaped (safe to log).
        var value: String
        /// What the client did with it, e.g. "capped at affonso.max_retry_after (60 seconds)".
        var action: String

        init(field: String, raw: String, action: String) {
            self.field = field
            self.value = Self.loggable(raw)
            self.action = action
        }

        var description: String { "\(field) '\(value)': \(action)" }

        /// At most 64 characters, printable ASCII only (other scalars as `\u{…}`), so a hostile header cannot
        /// forge log lines or flood them.
        static func loggable(_ raw: String) -> String {
            var text = ""
            for scalar in raw.unicodeScalars.prefix(64) {
                if scalar.value >= 0x20 && scalar.value < 0x7F {
                    text.unicodeScalars.append(scalar)
                } else {
                    text += "\\u{\(String(scalar.value, radix: 16))}"
                }
            }
            return raw.unicodeScalars.count > 64 ? text + "…" : text
        }
    }

    /// What `X-RateLimit-*` say, ready for ``RateLimiter/observe(limit:remaining:resetIn:window:)``.
    struct Observation: Sendable, Hashable {
        var limit: Int?
        var remaining: Int
        var resetIn: Duration
        /// `X-RateLimit-Reset` as sent (whole Unix seconds): the API's window, the same for every client.
        var window: Int64? = nil
    }

    // MARK: - Retry-After

    /// The wait a 429 asks for: `Retry-After` as delta-seconds or an HTTP-date, else `error.retryAfter`
    /// (seconds) from the body, else `nil`. Always within `0...maximumWait`.
    ///
    /// - Parameters:
    ///   - header: the `Retry-After` header, if sent.
    ///   - body: the envelope's `error.retryAfter`, if it was a number.
    ///   - now: the current time, for an HTTP-date.
    ///   - maximumWait: `affonso.max_retry_after`.
    ///   - odd: receives each value that was out of range or unreadable.
    static func retryAfter(
        header: String?,
        body: Double?,
        now: Date,
        maximumWait: Duration,
        odd: (OddValue) -> Void = { _ in }
    ) -> Duration? {
        if let header = header?.trimmingCharacters(in: .whitespaces), !header.isEmpty {
            if let seconds = Double(header), header.allSatisfy({ $0.isASCII }) {
                if let wait = clampedWait(
                    seconds: seconds, field: "Retry-After", raw: header, maximum: maximumWait, odd)
                {
                    return wait
                }
            } else if let date = HTTPDate.parse(header) {
                return clampedWait(
                    seconds: date - now.timeIntervalSince1970, field: "Retry-After", raw: header,
                    maximum: maximumWait, odd, pastIsNormal: true)
            } else {
                odd(OddValue(field: "Retry-After", raw: header, action: "neither seconds nor an HTTP-date; ignored"))
            }
        }
        if let body {
            return clampedWait(
                seconds: body, field: "error.retryAfter", raw: "\(body)", maximum: maximumWait, odd)
        }
        return nil
    }

    // MARK: - X-RateLimit-*

    /// What `X-RateLimit-Limit`, `-Remaining` and `-Reset` (Unix seconds) say, or `nil` when `Remaining` or
    /// `Reset` is missing or unreadable. `resetIn` is within `0...maximumWait`; a negative `Remaining` counts as
    /// 0; an unreadable or non-positive `Limit` is left out.
    ///
    /// - Parameters:
    ///   - limit: `X-RateLimit-Limit`, if sent.
    ///   - remaining: `X-RateLimit-Remaining`, if sent.
    ///   - reset: `X-RateLimit-Reset`, if sent.
    ///   - now: the current time.
    ///   - maximumWait: `affonso.max_retry_after`.
    ///   - odd: receives each value that was out of range or unreadable.
    static func observation(
        limit: String?,
        remaining: String?,
        reset: String?,
        now: Date,
        maximumWait: Duration,
        odd: (OddValue) -> Void = { _ in }
    ) -> Observation? {
        guard let remainingText = remaining?.trimmingCharacters(in: .whitespaces),
            let resetText = reset?.trimmingCharacters(in: .whitespaces)
        else { return nil }
        guard var remainingCount = Int(remainingText) else {
            odd(OddValue(field: "X-RateLimit-Remaining", raw: remainingText, action: "not a whole number; ignored"))
            return nil
        }
        if remainingCount < 0 {
            odd(OddValue(field: "X-RateLimit-Remaining", raw: remainingText, action: "negative; counted as 0"))
            remainingCount = 0
        }
        guard let resetAt = Double(resetText), resetAt.isFinite, resetAt >= 0, resetText.allSatisfy({ $0.isASCII })
        else {
            odd(
                OddValue(
                    field: "X-RateLimit-Reset", raw: resetText, action: "not a finite, non-negative Unix time; ignored")
            )
            return nil
        }
        guard
            let resetIn = clampedWait(
                seconds: resetAt - now.timeIntervalSince1970, field: "X-RateLimit-Reset", raw: resetText,
                maximum: maximumWait, odd, pastIsNormal: true, tolerance: 5)
        else { return nil }
        var limitCount: Int?
        if let limitText = limit?.trimmingCharacters(in: .whitespaces) {
            if let value = Int(limitText), value > 0 {
                limitCount = value
            } else {
                odd(
                    OddValue(field: "X-RateLimit-Limit", raw: limitText, action: "not a positive whole number; ignored")
                )
            }
        }
        let window = resetAt < 1e15 ? Int64(resetAt.rounded()) : nil
        return Observation(limit: limitCount, remaining: remainingCount, resetIn: resetIn, window: window)
    }

    // MARK: - Clamping

    /// `seconds` as a `Duration` within `0...maximum`; `nil` for NaN and for a negative delay (both reported as
    /// odd). Values past `maximum` (infinity included) become `maximum`, reported as odd when more than
    /// `tolerance` seconds past it. With `pastIsNormal` (a date or reset time that just passed, clock skew) a
    /// negative value is a wait of zero.
    static func clampedWait(
        seconds: Double,
        field: String,
        raw: String,
        maximum: Duration,
        _ odd: (OddValue) -> Void,
        pastIsNormal: Bool = false,
        tolerance: Double = 0
    ) -> Duration? {
        if seconds.isNaN {
            odd(OddValue(field: field, raw: raw, action: "not a number; ignored"))
            return nil
        }
        if seconds < 0 {
            guard pastIsNormal else {
                // A negative delay means nothing; waiting zero after a 429 would invite the next one.
                odd(OddValue(field: field, raw: raw, action: "negative; ignored"))
                return nil
            }
            return .zero
        }
        let maximum = max(maximum, .zero)
        if seconds >= maximum.seconds {
            // A reset a second or two past a one-minute window is the clocks' rounding, not an odd value.
            if seconds > maximum.seconds + tolerance {
                odd(
                    OddValue(
                        field: field, raw: raw,
                        action: "capped at affonso.max_retry_after (\(maximum))"))
            }
            return maximum
        }
        return .seconds(seconds)
    }
}
