// The function table: standard functions, conversions, optionals, timestamps; extensions live beside it.

import Foundation

enum Overload: Sendable {
    case unary(@Sendable (CELValue) throws(CELError) -> CELValue)
    case binary(@Sendable (CELValue, CELValue) throws(CELError) -> CELValue)
    case ternary(@Sendable (CELValue, CELValue, CELValue) throws(CELError) -> CELValue)
    case variadic(@Sendable ([CELValue]) throws(CELError) -> CELValue)
}

enum Functions {
    /// Keyed `name/arity` (or `name/*`): `size(x)`, `math.greatest(a, b)`, operators `_+_`.
    static let global: [String: Overload] = {
        var table: [String: Overload] = [
            "_+_/2": .binary(Arithmetic.add),
            "_-_/2": .binary(Arithmetic.subtract),
            "_*_/2": .binary(Arithmetic.multiply),
            "_/_/2": .binary(Arithmetic.divide),
            "_%_/2": .binary(Arithmetic.modulo),
            "_==_/2": .binary(Arithmetic.equals),
            "_!=_/2": .binary(Arithmetic.notEquals),
            "_<_/2": .binary(Arithmetic.less),
            "_<=_/2": .binary(Arithmetic.lessOrEqual),
            "_>_/2": .binary(Arithmetic.greater),
            "_>=_/2": .binary(Arithmetic.greaterOrEqual),
            "@in/2": .binary(Arithmetic.contains),
            "size/1": .unary(size),
            "int/1": .unary(Conversions.toInt),
            "uint/1": .unary(Conversions.toUint),
            "double/1": .unary(Conversions.toDouble),
            "string/1": .unary(Conversions.toString),
            "bytes/1": .unary(Conversions.toBytes),
            "bool/1": .unary(Conversions.toBool),
            "dyn/1": .unary { $0 },
            "type/1": .unary { .type(CELType(name: $0.typeName)) },
            "timestamp/1": .unary(Conversions.toTimestamp),
            "duration/1": .unary(Conversions.toDuration),
            "matches/2": .binary(matches),
            "optional.of/1": .unary { .optional($0) },
            "optional.ofNonZeroValue/1": .unary { $0.isZeroValue ? .optional(nil) : .optional($0) },
            "optional.none/0": .variadic { _ in .optional(nil) },
            "optional.unwrap/1": .unary(unwrapOptionals),
            "base64.encode/1": .unary(base64Encode),
            "base64.decode/1": .unary(base64Decode),
        ]
        for (name, overload) in StringFunctions.global { table[name] = overload }
        for (name, overload) in MathFunctions.global { table[name] = overload }
        return table
    }()

    /// Receiver-style functions; the receiver is the first argument (`'a'.contains('b')` is `contains/2`).
    static let member: [String: Overload] = {
        var table: [String: Overload] = [
            "size/1": .unary(size),
            "contains/2": .binary(stringPredicate("contains") { $0.contains($1) }),
            "startsWith/2": .binary(
                stringPredicate("startsWith") { $0.unicodeScalars.starts(with: $1.unicodeScalars) }),
            "endsWith/2": .binary(
                stringPredicate("endsWith") { $0.unicodeScalars.reversed().starts(with: $1.unicodeScalars.reversed()) }
            ),
            "matches/2": .binary(matches),
            "hasValue/1": .unary(hasValue),
            "value/1": .unary(optionalValue),
            "orValue/2": .binary(orValue),
            "or/2": .binary(optionalOr),
            "unwrapOpt/1": .unary(unwrapOptionals),
        ]
        for field in TimeField.allCases {
            table["\(field.rawValue)/1"] = .unary { (value) throws(CELError) in try timeField(field, value, nil) }
            table["\(field.rawValue)/2"] = .binary { (value, zone) throws(CELError) in
                try timeField(field, value, zone)
            }
        }
        for (name, overload) in StringFunctions.member { table[name] = overload }
        return table
    }()

    // MARK: - Standard

    static func size(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .string(let s): return .int(Int64(s.unicodeScalars.count))
        case .bytes(let b): return .int(Int64(b.count))
        case .list(let l): return .int(Int64(l.count))
        case .map(let m): return .int(Int64(m.count))
        default: throw .noOverload("size", [value])
        }
    }

    static func stringPredicate(
        _ name: String, _ test: @escaping @Sendable (String, String) -> Bool
    )
        -> @Sendable (CELValue, CELValue) throws(CELError) -> CELValue
    {
        { (a, b) throws(CELError) in
            guard case .string(let x) = a, case .string(let y) = b else { throw .noOverload(name, [a, b]) }
            if y.isEmpty { return .bool(true) }
            return .bool(test(x, y))
        }
    }

    static func matches(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        guard case .string(let text) = a, case .string(let pattern) = b else { throw .noOverload("matches", [a, b]) }
        if pattern.isEmpty { return .bool(true) }
        let regex: NSRegularExpression
        do {
            regex = try RegexCache.shared.regex(pattern)
        } catch {
            throw CELError.evaluation("invalid regular expression '\(pattern)': \(error)")
        }
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        return .bool(regex.firstMatch(in: text, options: [], range: range) != nil)
    }

    // MARK: - Optionals

    static func hasValue(_ value: CELValue) throws(CELError) -> CELValue {
        guard case .optional(let wrapped) = value else { throw .noOverload("hasValue", [value]) }
        return .bool(wrapped != nil)
    }

    static func optionalValue(_ value: CELValue) throws(CELError) -> CELValue {
        guard case .optional(let wrapped) = value else { throw .noOverload("value", [value]) }
        guard let wrapped else {
            throw CELError.evaluation("optional.none() has no value; use orValue() or hasValue()")
        }
        return wrapped
    }

    static func orValue(_ value: CELValue, _ fallback: CELValue) throws(CELError) -> CELValue {
        guard case .optional(let wrapped) = value else { throw .noOverload("orValue", [value, fallback]) }
        return wrapped ?? fallback
    }

    static func optionalOr(_ value: CELValue, _ other: CELValue) throws(CELError) -> CELValue {
        guard case .optional(let wrapped) = value, case .optional = other else {
            throw .noOverload("or", [value, other])
        }
        return wrapped != nil ? value : other
    }

    /// `optional.unwrap([optional.of(1), optional.none()])` is `[1]`.
    static func unwrapOptionals(_ value: CELValue) throws(CELError) -> CELValue {
        guard case .list(let items) = value else { throw .noOverload("optional.unwrap", [value]) }
        var result: [CELValue] = []
        for item in items {
            guard case .optional(let wrapped) = item else {
                throw CELError.evaluation("optional.unwrap(): list element is \(item.typeName), not optional")
            }
            if let wrapped { result.append(wrapped) }
        }
        return .list(result)
    }

    // MARK: - Encoders

    static func base64Encode(_ value: CELValue) throws(CELError) -> CELValue {
        guard case .bytes(let b) = value else { throw .noOverload("base64.encode", [value]) }
        return .string(Data(b).base64EncodedString())
    }

    static func base64Decode(_ value: CELValue) throws(CELError) -> CELValue {
        guard case .string(let s) = value else { throw .noOverload("base64.decode", [value]) }
        var padded = s
        while padded.utf8.count % 4 != 0 { padded += "=" }
        guard let data = Data(base64Encoded: padded) else {
            throw CELError.evaluation("base64.decode: input is not valid base64")
        }
        return .bytes(Array(data))
    }

    // MARK: - Time

    enum TimeField: String, CaseIterable, Sendable {
        case getFullYear, getMonth, getDate, getDayOfMonth, getDayOfWeek, getDayOfYear, getHours, getMinutes,
            getSeconds, getMilliseconds
    }

    static func timeField(_ field: TimeField, _ value: CELValue, _ zone: CELValue?) throws(CELError) -> CELValue {
        switch value {
        case .timestamp(let t):
            var zoneName: String?
            if let zone {
                guard case .string(let name) = zone else { throw .noOverload(field.rawValue, [value, zone]) }
                zoneName = name
            }
            if field == .getMilliseconds { return .int(Int64(t.nanos) / 1_000_000) }
            let c = try t.components(timeZone: zoneName)
            switch field {
            case .getFullYear: return .int(c.year)
            case .getMonth: return .int(c.month - 1)
            case .getDate: return .int(c.day)
            case .getDayOfMonth: return .int(c.day - 1)
            case .getDayOfWeek: return .int(c.dayOfWeek)
            case .getDayOfYear: return .int(c.dayOfYear)
            case .getHours: return .int(c.hour)
            case .getMinutes: return .int(c.minute)
            case .getSeconds: return .int(c.second)
            case .getMilliseconds: return .int(Int64(t.nanos) / 1_000_000)
            }
        case .duration(let d) where zone == nil:
            switch field {
            case .getHours: return .int(d.seconds / 3600)
            case .getMinutes: return .int(d.seconds / 60)
            case .getSeconds: return .int(d.seconds)
            case .getMilliseconds: return .int(d.seconds * 1_000 + Int64(d.nanos) / 1_000_000)
            default: throw .noOverload(field.rawValue, [value])
            }
        default:
            throw .noOverload(field.rawValue, zone.map { [value, $0] } ?? [value])
        }
    }
}

extension CELValue {
    /// True for the zero value of the type (`0`, `''`, `[]`, `{}`, `null`, `false`, …).
    var isZeroValue: Bool {
        switch self {
        case .null: true
        case .bool(let b): !b
        case .int(let i): i == 0
        case .uint(let u): u == 0
        case .double(let d): d == 0
        case .string(let s): s.isEmpty
        case .bytes(let b): b.isEmpty
        case .list(let l): l.isEmpty
        case .map(let m): m.count == 0
        case .timestamp(let t): t.seconds == 0 && t.nanos == 0
        case .duration(let d): d.seconds == 0 && d.nanos == 0
        case .type: false
        case .optional(let o): o == nil
        }
    }
}
