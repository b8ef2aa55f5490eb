// CEL's equality, ordering and type names over dynamic values.

extension CELValue {
    /// CEL's name for the value's type, as `type(x)` reports it.
    var typeName: String {
        switch self {
        case .null: "null_type"
        case .bool: "bool"
        case .int: "int"
        case .uint: "uint"
        case .double: "double"
        case .string: "string"
        case .bytes: "bytes"
        case .list: "list"
        case .map: "map"
        case .timestamp: "google.protobuf.Timestamp"
        case .duration: "google.protobuf.Duration"
        case .type: "type"
        case .optional: "optional_type"
        }
    }

    /// CEL equality: numbers compare across int/uint/double, lists and maps element-wise, NaN is unequal.
    func celEquals(_ other: CELValue) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.uint(let a), .uint(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b
        case (.int, .uint), (.int, .double), (.uint, .int), (.uint, .double), (.double, .int), (.double, .uint):
            return Self.compareNumbers(self, other) == 0
        case (.bytes(let a), .bytes(let b)): return a == b
        case (.list(let a), .list(let b)):
            guard a.count == b.count else { return false }
            for i in 0..<a.count where !a[i].celEquals(b[i]) { return false }
            return true
        case (.map(let a), .map(let b)):
            guard a.count == b.count else { return false }
            for entry in a.entries {
                guard let other = b[entry.key], entry.value.celEquals(other) else { return false }
            }
            return true
        case (.timestamp(let a), .timestamp(let b)): return a == b
        case (.duration(let a), .duration(let b)): return a == b
        case (.type(let a), .type(let b)): return a.name == b.name
        case (.optional(let a), .optional(let b)):
            switch (a, b) {
            case (nil, nil): return true
            case (let x?, let y?): return x.celEquals(y)
            default: return false
            }
        default: return false
        }
    }

    /// Compares two numbers of any numeric type exactly; nil when either is NaN or not a number.
    static func compareNumbers(_ a: CELValue, _ b: CELValue) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.uint(let x), .uint(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.double(let x), .double(let y)):
            if x.isNaN || y.isNaN { return nil }
            return x < y ? -1 : (x > y ? 1 : 0)
        case (.int(let x), .uint(let y)):
            if x < 0 { return -1 }
            let ux = UInt64(x)
            return ux < y ? -1 : (ux > y ? 1 : 0)
        case (.uint, .int): return compareNumbers(b, a).map { -$0 }
        // Like cel-go, int and uint compare with double after conversion to double.
        case (.int(let x), .double(let y)): return compareDoubles(Double(x), y)
        case (.double(let x), .int(let y)): return compareDoubles(x, Double(y))
        case (.uint(let x), .double(let y)): return compareDoubles(Double(x), y)
        case (.double(let x), .uint(let y)): return compareDoubles(x, Double(y))
        default: return nil
        }
    }

    private static func compareDoubles(_ x: Double, _ y: Double) -> Int? {
        if x.isNaN || y.isNaN { return nil }
        return x < y ? -1 : (x > y ? 1 : 0)
    }
    /// Ordering for `<`, `<=`, `>`, `>=`; nil result means "false" (NaN); throws for unordered type pairs.
    static func order(_ a: CELValue, _ b: CELValue, function: String) throws(CELError) -> Int? {
        switch (a, b) {
        case (.int, .int), (.uint, .uint), (.double, .double), (.int, .uint), (.int, .double), (.uint, .int),
            (.uint, .double), (.double, .int), (.double, .uint):
            return compareNumbers(a, b)
        case (.string(let x), .string(let y)):
            if x == y { return 0 }
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars) ? -1 : 1
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        case (.bytes(let x), .bytes(let y)):
            if x == y { return 0 }
            return x.lexicographicallyPrecedes(y) ? -1 : 1
        case (.timestamp(let x), .timestamp(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.duration(let x), .duration(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        default: throw .noOverload(function, [a, b])
        }
    }

    /// Text of the value as `string(x)` and `%s` produce it.
    func displayString(nested: Bool = false) -> String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .double(let d): return Self.formatDouble(d)
        case .string(let s): return s
        case .bytes(let b): return String(decoding: b, as: UTF8.self)
        case .list(let items): return "[" + items.map { $0.displayString(nested: true) }.joined(separator: ", ") + "]"
        case .map(let map):
            let parts = map.entries.map {
                "\($0.key.displayString(nested: true)): \($0.value.displayString(nested: true))"
            }
            return "{" + parts.joined(separator: ", ") + "}"
        case .timestamp(let t): return t.rfc3339
        case .duration(let d): return d.text
        case .type(let t): return t.name
        case .optional(let o):
            guard let o else { return "optional.none()" }
            return "optional.of(\(o.displayString(nested: true)))"
        }
    }

    /// Go's `%g` (shortest digits; exponent form below 1e-4 and from 1e6), as cel-go prints doubles.
    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        let sign = d.sign == .minus ? "-" : ""
        if d == 0 { return sign + "0" }
        // Swift's description has the shortest round-tripping digits; re-lay them out.
        let text = abs(d).description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let integerPart = parts[0]
        let fractionPart = parts.count > 1 ? parts[1] : ""
        var digits = Array(integerPart + fractionPart)
        var decimalPoint = integerPart.count + exponent
        while digits.count > 1 && digits[0] == "0" {
            digits.removeFirst()
            decimalPoint -= 1
        }
        while digits.count > 1 && digits[digits.count - 1] == "0" { digits.removeLast() }
        let x = decimalPoint - 1
        if x < -4 || x >= 6 {
            var result = sign + String(digits[0])
            if digits.count > 1 { result += "." + String(digits[1...]) }
            let magnitude = abs(x)
            return result + (x < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + String(magnitude)
        }
        if decimalPoint <= 0 {
            return sign + "0." + String(repeating: "0", count: -decimalPoint) + String(digits)
        }
        if decimalPoint >= digits.count {
            return sign + String(digits) + String(repeating: "0", count: decimalPoint - digits.count)
        }
        return sign + String(digits[..<decimalPoint]) + "." + String(digits[decimalPoint...])
    }
}

extension CELError {
    static func evaluation(_ message: String) -> CELError {
        CELError(code: .evaluation, message: message)
    }

    static func noOverload(_ function: String, _ arguments: [CELValue]) -> CELError {
        let types = arguments.map(\.typeName).joined(separator: ", ")
        let name = Self.operatorNames[function] ?? function
        return .evaluation("no such overload: \(name)(\(types))")
    }

    private static let operatorNames: [String: String] = [
        "_+_": "'+'", "_-_": "'-'", "_*_": "'*'", "_/_": "'/'", "_%_": "'%'", "_<_": "'<'", "_<=_": "'<='",
        "_>_": "'>'", "_>=_": "'>='", "_==_": "'=='", "_!=_": "'!='", "@in": "'in'", "-_": "unary '-'",
        "!_": "'!'",
    ]
}
