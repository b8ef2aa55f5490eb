// `string.format(list)` of the CEL strings extension: %s %d %f %e %b %o %x %X %% with precision.

import Foundation

enum Formatter {
    static func format(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        guard case .string(let template) = a, case .list(let arguments) = b else {
            throw .noOverload("format", [a, b])
        }
        let scalars = Array(template.unicodeScalars)
        var output = ""
        var argumentIndex = 0
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            guard c == "%" else {
                output.unicodeScalars.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < scalars.count else { throw fail("format string ends with a lone '%'") }
            if scalars[i] == "%" {
                output += "%"
                i += 1
                continue
            }
            var precision: Int?
            if scalars[i] == "." {
                i += 1
                var digits = 0
                var sawDigit = false
                while i < scalars.count, let d = Int(String(scalars[i])) {
                    digits = min(digits * 10 + d, 1_000)
                    sawDigit = true
                    i += 1
                }
                guard sawDigit, digits <= 100 else { throw fail("precision after '.' must be a number up to 100") }
                precision = digits
            }
            guard i < scalars.count else { throw fail("format string ends inside a clause") }
            let verb = scalars[i]
            i += 1
            guard argumentIndex < arguments.count else {
                throw fail("index \(argumentIndex) out of range: only \(arguments.count) argument(s)")
            }
            let argument = arguments[argumentIndex]
            argumentIndex += 1
            output += try clause(verb, precision, argument)
        }
        return .string(output)
    }

    private static func fail(_ message: String) -> CELError {
        .evaluation("error during formatting: \(message)")
    }

    private static func clause(_ verb: Unicode.Scalar, _ precision: Int?, _ value: CELValue) throws(CELError) -> String
    {
        switch verb {
        case "s": return value.displayString()
        case "d":
            switch value {
            case .int(let i): return String(i)
            case .uint(let u): return String(u)
            case .double(let d) where !d.isFinite: return CELValue.formatDouble(d)
            default: throw fail("decimal clause can only be used on integers, was given \(value.typeName)")
            }
        case "f", "e":
            let d: Double
            switch value {
            case .double(let x): d = x
            case .int(let x): d = Double(x)
            case .uint(let x): d = Double(x)
            default:
                let name = verb == "f" ? "fixed-point" : "scientific"
                throw fail("\(name) clause can only be used on doubles, was given \(value.typeName)")
            }
            if !d.isFinite { return CELValue.formatDouble(d) }
            return String(format: "%.\(precision ?? 6)\(verb)", d)
        case "b":
            switch value {
            case .int(let i): return i < 0 ? "-" + String(i.magnitude, radix: 2) : String(i, radix: 2)
            case .uint(let u): return String(u, radix: 2)
            case .bool(let b): return b ? "1" : "0"
            default: throw fail("only integers and bools can be formatted as binary, was given \(value.typeName)")
            }
        case "o":
            switch value {
            case .int(let i): return i < 0 ? "-" + String(i.magnitude, radix: 8) : String(i, radix: 8)
            case .uint(let u): return String(u, radix: 8)
            default: throw fail("octal clause can only be used on integers, was given \(value.typeName)")
            }
        case "x", "X":
            let upper = verb == "X"
            switch value {
            case .int(let i):
                return i < 0
                    ? "-" + String(i.magnitude, radix: 16, uppercase: upper) : String(i, radix: 16, uppercase: upper)
            case .uint(let u): return String(u, radix: 16, uppercase: upper)
            case .string(let s): return hex(Array(s.utf8), upper)
            case .bytes(let b): return hex(b, upper)
            default:
                throw fail(
                    "only integers, byte buffers, and strings can be formatted as hex, was given \(value.typeName)")
            }
        default:
            throw fail("unrecognized formatting clause '%\(verb)'")
        }
    }

    private static func hex(_ bytes: [UInt8], _ upper: Bool) -> String {
        let digits = Array((upper ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
