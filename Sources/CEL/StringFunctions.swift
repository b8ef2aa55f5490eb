// The CEL strings extension: charAt, indexOf, lastIndexOf, lowerAscii, upperAscii, replace, split,
// substring, trim, join, reverse, format, strings.quote. Indices count Unicode code points.

import Foundation

enum StringFunctions {
    /// Largest string a single function call may build.
    static let maximumResultBytes = 16_000_000

    static let global: [String: Overload] = [
        "strings.quote/1": .unary(quote)
    ]

    static let member: [String: Overload] = [
        "charAt/2": .binary(charAt),
        "indexOf/2": .binary { (s, t) throws(CELError) in try indexOf(s, t, nil, last: false) },
        "indexOf/3": .ternary { (s, t, i) throws(CELError) in try indexOf(s, t, i, last: false) },
        "lastIndexOf/2": .binary { (s, t) throws(CELError) in try indexOf(s, t, nil, last: true) },
        "lastIndexOf/3": .ternary { (s, t, i) throws(CELError) in try indexOf(s, t, i, last: true) },
        "lowerAscii/1": .unary { (s) throws(CELError) in try mapAscii(s, "lowerAscii", upper: false) },
        "upperAscii/1": .unary { (s) throws(CELError) in try mapAscii(s, "upperAscii", upper: true) },
        "replace/3": .variadic(replace),
        "replace/4": .variadic(replace),
        "split/2": .variadic(split),
        "split/3": .variadic(split),
        "substring/2": .variadic(substring),
        "substring/3": .variadic(substring),
        "trim/1": .unary(trim),
        "join/1": .variadic(join),
        "join/2": .variadic(join),
        "reverse/1": .unary(reverse),
        "format/2": .binary(Formatter.format),
    ]

    /// - Parameter all: the call's arguments, for the error (built only then).
    private static func string(
        _ value: CELValue, _ function: String, _ all: @autoclosure () -> [CELValue]
    ) throws(CELError) -> String {
        guard case .string(let s) = value else { throw .noOverload(function, all()) }
        return s
    }

    /// - Parameter all: the call's arguments, for the error (built only then).
    private static func integer(
        _ value: CELValue, _ function: String, _ all: @autoclosure () -> [CELValue]
    ) throws(CELError) -> Int64 {
        guard case .int(let i) = value else { throw .noOverload(function, all()) }
        return i
    }

    static func charAt(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        let s = Array(try string(a, "charAt", [a, b]).unicodeScalars)
        let i = try integer(b, "charAt", [a, b])
        guard i >= 0 && i <= s.count else { throw CELError.evaluation("index out of range: \(i)") }
        if i == s.count { return .string("") }
        return .string(String(s[Int(i)]))
    }

    static func indexOf(_ a: CELValue, _ b: CELValue, _ c: CELValue?, last: Bool) throws(CELError) -> CELValue {
        let name = last ? "lastIndexOf" : "indexOf"
        let all = [a, b] + (c.map { [$0] } ?? [])
        let text = Array(try string(a, name, all).unicodeScalars)
        let needle = Array(try string(b, name, all).unicodeScalars)
        var start: Int
        if let c {
            let i = try integer(c, name, all)
            guard i >= 0 && i <= text.count else { throw CELError.evaluation("index out of range: \(i)") }
            start = Int(i)
        } else {
            start = last ? text.count : 0
        }
        if needle.isEmpty { return .int(Int64(start)) }
        if last {
            var i = min(start, text.count - needle.count)
            while i >= 0 {
                if text[i..<i + needle.count].elementsEqual(needle) { return .int(Int64(i)) }
                i -= 1
            }
        } else {
            var i = start
            while i + needle.count <= text.count {
                if text[i..<i + needle.count].elementsEqual(needle) { return .int(Int64(i)) }
                i += 1
            }
        }
        return .int(-1)
    }

    static func mapAscii(_ a: CELValue, _ name: String, upper: Bool) throws(CELError) -> CELValue {
        var s = try string(a, name, [a])
        let (from, to): (UInt8, UInt8) = upper ? (0x61, 0x7A) : (0x41, 0x5A)
        // Built in place on the stack (a currency code, a short id), and not at all when nothing changes.
        return s.withUTF8 { utf8 -> CELValue in
            guard utf8.contains(where: { $0 >= from && $0 <= to }) else { return a }
            return .string(
                String(unsafeUninitializedCapacity: utf8.count) { buffer in
                    for (position, byte) in utf8.enumerated() {
                        buffer[position] = byte >= from && byte <= to ? byte ^ 0x20 : byte
                    }
                    return utf8.count
                })
        }
    }

    static func replace(_ args: [CELValue]) throws(CELError) -> CELValue {
        let s = try string(args[0], "replace", args)
        let old = try string(args[1], "replace", args)
        let new = try string(args[2], "replace", args)
        var limit: Int64 = -1
        if args.count == 4 { limit = try integer(args[3], "replace", args) }
        if limit == 0 { return .string(s) }
        // Refuse results that would exhaust memory (e.g. replacing '' in a large string).
        let pieces = old.isEmpty ? s.unicodeScalars.count + 1 : s.utf8.count / old.utf8.count
        let replacements = limit < 0 ? pieces : min(pieces, Int(clamping: limit))
        if new.utf8.count > old.utf8.count,
            s.utf8.count + replacements * (new.utf8.count - old.utf8.count) > maximumResultBytes
        {
            throw CELError(
                code: .limit,
                message: "replace() result would exceed \(maximumResultBytes / 1_000_000) MB; limit the replacements"
            )
        }
        if limit < 0 && !old.isEmpty { return .string(s.replacingOccurrences(of: old, with: new)) }
        let text = Array(s.unicodeScalars)
        let needle = Array(old.unicodeScalars)
        var result = String.UnicodeScalarView()
        var i = 0
        var replaced: Int64 = 0
        while i <= text.count {
            if limit >= 0 && replaced >= limit { break }
            if needle.isEmpty {
                result.append(contentsOf: new.unicodeScalars)
                replaced += 1
                if i < text.count { result.append(text[i]) }
                i += 1
                continue
            }
            if i + needle.count <= text.count && text[i..<i + needle.count].elementsEqual(needle) {
                result.append(contentsOf: new.unicodeScalars)
                replaced += 1
                i += needle.count
            } else {
                if i < text.count { result.append(text[i]) }
                i += 1
            }
        }
        if i < text.count { result.append(contentsOf: text[i...]) }
        return .string(String(result))
    }

    static func split(_ args: [CELValue]) throws(CELError) -> CELValue {
        let s = try string(args[0], "split", args)
        let separator = try string(args[1], "split", args)
        var limit: Int64 = -1
        if args.count == 3 { limit = try integer(args[2], "split", args) }
        if limit == 0 { return .list([]) }
        if limit == 1 { return .list([.string(s)]) }
        var parts: [String]
        if separator.isEmpty {
            parts = s.unicodeScalars.map { String($0) }
        } else {
            parts = s.components(separatedBy: separator)
        }
        if limit > 0 && parts.count > Int(limit) {
            let head = Array(parts[0..<Int(limit) - 1])
            let tail = parts[(Int(limit) - 1)...].joined(separator: separator)
            parts = head + [tail]
        }
        return .list(parts.map { .string($0) })
    }

    static func substring(_ args: [CELValue]) throws(CELError) -> CELValue {
        let text = Array(try string(args[0], "substring", args).unicodeScalars)
        let start = try integer(args[1], "substring", args)
        var end = Int64(text.count)
        if args.count == 3 { end = try integer(args[2], "substring", args) }
        guard start >= 0 && start <= text.count else { throw CELError.evaluation("index out of range: \(start)") }
        guard end >= 0 && end <= text.count else { throw CELError.evaluation("index out of range: \(end)") }
        guard start <= end else {
            throw CELError.evaluation("invalid substring range. start: \(start), end: \(end)")
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: text[Int(start)..<Int(end)])
        return .string(String(view))
    }

    static func trim(_ a: CELValue) throws(CELError) -> CELValue {
        let text = Array(try string(a, "trim", [a]).unicodeScalars)
        var low = 0
        var high = text.count
        while low < high && text[low].properties.isWhitespace { low += 1 }
        while high > low && text[high - 1].properties.isWhitespace { high -= 1 }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: text[low..<high])
        return .string(String(view))
    }

    static func join(_ args: [CELValue]) throws(CELError) -> CELValue {
        guard case .list(let items) = args[0] else { throw .noOverload("join", args) }
        var separator = ""
        if args.count == 2 { separator = try string(args[1], "join", args) }
        var parts: [String] = []
        for item in items {
            guard case .string(let s) = item else {
                throw CELError.evaluation("join(): list element is \(item.typeName), not string")
            }
            parts.append(s)
        }
        return .string(parts.joined(separator: separator))
    }

    static func reverse(_ a: CELValue) throws(CELError) -> CELValue {
        let s = try string(a, "reverse", [a])
        var view = String.UnicodeScalarView()
        view.append(contentsOf: s.unicodeScalars.reversed())
        return .string(String(view))
    }

    static func quote(_ a: CELValue) throws(CELError) -> CELValue {
        let s = try string(a, "strings.quote", [a])
        var result = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\u{07}": result += "\\a"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{0B}": result += "\\v"
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            default: result.unicodeScalars.append(scalar)
            }
        }
        return .string(result + "\"")
    }
}
