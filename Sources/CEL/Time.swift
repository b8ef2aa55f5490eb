// Timestamps and durations: RFC 3339 and duration text, arithmetic with range checks, calendar fields.

import Foundation

extension CELTimestamp {
    /// 0001-01-01T00:00:00Z.
    static let minimumSeconds: Int64 = -62_135_596_800
    /// 9999-12-31T23:59:59Z.
    static let maximumSeconds: Int64 = 253_402_300_799

    static func checked(seconds: Int64, nanos: Int64) throws(CELError) -> CELTimestamp {
        var s = seconds
        var n = nanos
        s += n / 1_000_000_000
        n %= 1_000_000_000
        if n < 0 {
            n += 1_000_000_000
            s -= 1
        }
        guard s >= minimumSeconds && s <= maximumSeconds else {
            throw CELError.evaluation("timestamp out of range (years 0001 to 9999)")
        }
        return CELTimestamp(seconds: s, nanos: Int32(n))
    }

    func adding(_ duration: CELDuration) throws(CELError) -> CELTimestamp {
        let (s, o) = seconds.addingReportingOverflow(duration.seconds)
        if o { throw CELError.evaluation("timestamp out of range") }
        return try Self.checked(seconds: s, nanos: Int64(nanos) + Int64(duration.nanos))
    }

    func difference(_ other: CELTimestamp) throws(CELError) -> CELDuration {
        // As in cel-go, a difference must fit in 64-bit nanoseconds (about ±292 years).
        guard abs(seconds - other.seconds) < 9_223_372_036 else {
            throw CELError.evaluation("range error: timestamp difference does not fit in a duration (±292 years)")
        }
        return try CELDuration.checked(seconds: seconds - other.seconds, nanos: Int64(nanos) - Int64(other.nanos))
    }

    /// Parses RFC 3339 (`2009-02-13T23:31:30Z`, `…T23:31:30.5+01:00`).
    static func parse(_ text: String) throws(CELError) -> CELTimestamp {
        let b = Array(text.utf8)
        func fail() -> CELError {
            .evaluation("invalid timestamp '\(text)': expected RFC 3339 like 2024-01-31T12:00:00Z")
        }
        func number(_ start: Int, _ count: Int) throws(CELError) -> Int64 {
            guard start + count <= b.count else { throw fail() }
            var value: Int64 = 0
            for i in start..<start + count {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { throw fail() }
                value = value * 10 + Int64(b[i] - 0x30)
            }
            return value
        }
        guard b.count >= 20 else { throw fail() }
        let year = try number(0, 4)
        guard b[4] == 0x2D, b[7] == 0x2D, b[10] | 0x20 == 0x74, b[13] == 0x3A, b[16] == 0x3A else { throw fail() }
        let month = try number(5, 2)
        let day = try number(8, 2)
        let hour = try number(11, 2)
        let minute = try number(14, 2)
        let second = try number(17, 2)
        var index = 19
        var nanos: Int64 = 0
        if index < b.count && b[index] == 0x2E {
            index += 1
            var digits = 0
            while index < b.count && b[index] >= 0x30 && b[index] <= 0x39 {
                if digits < 9 {
                    nanos = nanos * 10 + Int64(b[index] - 0x30)
                    digits += 1
                }
                index += 1
            }
            guard digits > 0 else { throw fail() }
            for _ in digits..<9 { nanos *= 10 }
        }
        guard index < b.count else { throw fail() }
        var offset: Int64 = 0
        if b[index] | 0x20 == 0x7A {
            index += 1
        } else if b[index] == 0x2B || b[index] == 0x2D {
            let sign: Int64 = b[index] == 0x2D ? -1 : 1
            guard index + 6 == b.count, b[index + 3] == 0x3A else { throw fail() }
            offset = sign * (try number(index + 1, 2) * 3600 + number(index + 4, 2) * 60)
            index += 6
        } else {
            throw fail()
        }
        guard index == b.count, (1...12).contains(month), day >= 1, day <= daysInMonth(year, month), hour < 24,
            minute < 60, second < 60, year >= 1
        else { throw fail() }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
        return try checked(seconds: seconds, nanos: nanos)
    }

    var rfc3339: String {
        let days = floorDivide(seconds, 86400)
        let (y, m, d) = civilFromDays(days)
        let secondOfDay = seconds - days * 86400
        var text =
            pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2) + "T" + pad(secondOfDay / 3600, 2) + ":"
            + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if nanos != 0 {
            var fraction = pad(Int64(nanos), 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// Calendar fields in a time zone: IANA name (`Europe/Berlin`), `UTC`, or fixed offset (`+05:30`, `-09:30`, `02:00`).
    func components(
        timeZone: String?
    ) throws(CELError) -> (
        year: Int64, month: Int64, day: Int64, dayOfYear: Int64, dayOfWeek: Int64, hour: Int64, minute: Int64,
        second: Int64
    ) {
        let offset = try Self.offsetSeconds(timeZone: timeZone, at: seconds)
        let local = seconds + offset
        let days = floorDivide(local, 86400)
        let (y, m, d) = civilFromDays(days)
        let secondOfDay = local - days * 86400
        let dayOfYear = days - daysFromCivil(y, 1, 1)
        // 1970-01-01 was a Thursday (4).
        let weekday = ((days % 7) + 7 + 4) % 7
        return (y, m, d, dayOfYear, weekday, secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
    }

    static func offsetSeconds(timeZone: String?, at seconds: Int64) throws(CELError) -> Int64 {
        guard let timeZone else { return 0 }
        let b = Array(timeZone.utf8)
        var sign: Int64 = 1
        var start = 0
        if let first = b.first, first == 0x2B || first == 0x2D {
            sign = first == 0x2D ? -1 : 1
            start = 1
        }
        if b.count - start == 5, b[start + 2] == 0x3A,
            let hours = Int64(String(decoding: b[start..<start + 2], as: UTF8.self)),
            let minutes = Int64(String(decoding: b[start + 3..<start + 5], as: UTF8.self))
        {
            return sign * (hours * 3600 + minutes * 60)
        }
        guard let zone = TimeZone(identifier: timeZone) else {
            throw CELError.evaluation(
                "unknown time zone '\(timeZone)': use an IANA name like 'Europe/Berlin' or '+01:00'")
        }
        return Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
    }
}

extension CELDuration {
    /// About ±10,000 years.
    static let maximumSeconds: Int64 = 315_576_000_000

    static func checked(seconds: Int64, nanos: Int64) throws(CELError) -> CELDuration {
        var s = seconds
        var n = nanos
        s += n / 1_000_000_000
        n %= 1_000_000_000
        if s > 0 && n < 0 {
            n += 1_000_000_000
            s -= 1
        } else if s < 0 && n > 0 {
            n -= 1_000_000_000
            s += 1
        }
        guard abs(s) <= maximumSeconds else { throw CELError.evaluation("duration out of range (about ±10,000 years)") }
        return CELDuration(seconds: s, nanos: Int32(n))
    }

    func adding(_ other: CELDuration) throws(CELError) -> CELDuration {
        try Self.checked(seconds: seconds + other.seconds, nanos: Int64(nanos) + Int64(other.nanos))
    }

    func negated() -> CELDuration { CELDuration(seconds: -seconds, nanos: -nanos) }

    var totalNanoseconds: Double { Double(seconds) * 1e9 + Double(nanos) }

    /// Parses Go-style durations: `1.5s`, `-1h30m`, `250ms`, `10us`, `3ns`.
    static func parse(_ text: String) throws(CELError) -> CELDuration {
        func fail() -> CELError { .evaluation("invalid duration '\(text)': expected e.g. '1.5s', '90m', '1h30m'") }
        var scalars = Array(text.unicodeScalars)
        var negative = false
        if let first = scalars.first, first == "-" || first == "+" {
            negative = first == "-"
            scalars.removeFirst()
        }
        guard !scalars.isEmpty else { throw fail() }
        if scalars == ["0"] { return CELDuration(seconds: 0) }
        var totalNanos: Double = 0
        var exactSeconds: Int64 = 0
        var exactNanos: Int64 = 0
        var index = 0
        while index < scalars.count {
            var whole: Int64 = 0
            var fraction: Double = 0
            var scale: Double = 1
            var sawDigit = false
            while index < scalars.count, let digit = asciiDigit(scalars[index]) {
                let (m, o1) = whole.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(digit)
                if o1 || o2 { throw CELError.evaluation("duration out of range") }
                whole = a
                sawDigit = true
                index += 1
            }
            if index < scalars.count && scalars[index] == "." {
                index += 1
                while index < scalars.count, let digit = asciiDigit(scalars[index]) {
                    scale /= 10
                    fraction += Double(digit) * scale
                    sawDigit = true
                    index += 1
                }
            }
            guard sawDigit else { throw fail() }
            var unit = ""
            while index < scalars.count, scalars[index] != ".", asciiDigit(scalars[index]) == nil {
                unit.unicodeScalars.append(scalars[index])
                index += 1
            }
            let nanosPerUnit: Int64
            switch unit {
            case "ns": nanosPerUnit = 1
            case "us", "µs", "μs": nanosPerUnit = 1_000
            case "ms": nanosPerUnit = 1_000_000
            case "s": nanosPerUnit = 1_000_000_000
            case "m": nanosPerUnit = 60_000_000_000
            case "h": nanosPerUnit = 3_600_000_000_000
            default: throw fail()
            }
            totalNanos += (Double(whole) + fraction) * Double(nanosPerUnit)
            guard abs(totalNanos) / 1e9 <= Double(maximumSeconds) + 1 else {
                throw CELError.evaluation("duration out of range (about ±10,000 years)")
            }
            // Whole seconds and nanoseconds are kept apart so large durations stay exact.
            let perSecond = max(1, nanosPerUnit / 1_000_000_000)
            if nanosPerUnit >= 1_000_000_000 {
                exactSeconds += whole * perSecond
            } else {
                exactSeconds += whole / (1_000_000_000 / nanosPerUnit)
                exactNanos += (whole % (1_000_000_000 / nanosPerUnit)) * nanosPerUnit
            }
            exactNanos += Int64((fraction * Double(nanosPerUnit)).rounded())
        }
        guard abs(totalNanos) / 1e9 <= Double(maximumSeconds) + 1 else {
            throw CELError.evaluation("duration out of range (about ±10,000 years)")
        }
        let result = try checked(seconds: exactSeconds, nanos: exactNanos)
        return negative ? result.negated() : result
    }

    /// `1.5s`, `-0.000000001s`, `6347s`.
    var text: String {
        var result = ""
        let negative = seconds < 0 || nanos < 0
        if negative { result += "-" }
        result += String(abs(seconds))
        if nanos != 0 {
            var fraction = String(abs(Int64(nanos)))
            fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            result += "." + fraction
        }
        return result + "s"
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}

private func daysInMonth(_ year: Int64, _ month: Int64) -> Int64 {
    switch month {
    case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yearOfEra = y - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
}

func civilFromDays(_ days: Int64) -> (Int64, Int64, Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let dayOfEra = z - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let mp = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}

private func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    a >= 0 ? a / b : (a - b + 1) / b
}

private func asciiDigit(_ scalar: Unicode.Scalar) -> Int64? {
    scalar.value >= 48 && scalar.value <= 57 ? Int64(scalar.value - 48) : nil
}
