// Type conversion functions: int(), uint(), double(), string(), bytes(), bool(), timestamp(), duration().

enum Conversions {
    static func toInt(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .int: return value
        case .uint(let u):
            guard u <= UInt64(Int64.max) else { throw rangeError("uint \(u)", "int") }
            return .int(Int64(u))
        case .double(let d):
            guard d > -9_223_372_036_854_775_808.0 && d < 9_223_372_036_854_775_807.0 else {
                throw rangeError("double \(CELValue.formatDouble(d))", "int")
            }
            return .int(Int64(d))
        case .string(let s):
            guard let i = Int64(s) else { throw CELError.evaluation("cannot convert string '\(s)' to int") }
            return .int(i)
        case .timestamp(let t): return .int(t.seconds)
        case .bool(let b): return .int(b ? 1 : 0)
        default: throw .noOverload("int", [value])
        }
    }

    static func toUint(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .uint: return value
        case .int(let i):
            guard i >= 0 else { throw rangeError("int \(i)", "uint") }
            return .uint(UInt64(i))
        case .double(let d):
            guard d > -1 && d < 18_446_744_073_709_551_616.0 else {
                throw rangeError("double \(CELValue.formatDouble(d))", "uint")
            }
            return .uint(UInt64(d))
        case .string(let s):
            guard let u = UInt64(s) else { throw CELError.evaluation("cannot convert string '\(s)' to uint") }
            return .uint(u)
        case .bool(let b): return .uint(b ? 1 : 0)
        default: throw .noOverload("uint", [value])
        }
    }

    static func toDouble(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .double: return value
        case .int(let i): return .double(Double(i))
        case .uint(let u): return .double(Double(u))
        case .string(let s):
            guard let d = Double(s) else { throw CELError.evaluation("cannot convert string '\(s)' to double") }
            return .double(d)
        default: throw .noOverload("double", [value])
        }
    }

    static func toString(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .string: return value
        case .bytes(let b):
            guard let s = String(validating: b, as: UTF8.self) else {
                throw CELError.evaluation("cannot convert bytes to string: invalid UTF-8")
            }
            return .string(s)
        case .int, .uint, .double, .bool, .timestamp, .duration, .type, .null:
            return .string(value.displayString())
        default: throw .noOverload("string", [value])
        }
    }

    static func toBytes(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .bytes: return value
        case .string(let s): return .bytes(Array(s.utf8))
        default: throw .noOverload("bytes", [value])
        }
    }

    static func toBool(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .bool: return value
        case .string(let s):
            switch s {
            case "1", "t", "T", "true", "TRUE", "True": return .bool(true)
            case "0", "f", "F", "false", "FALSE", "False": return .bool(false)
            default: throw CELError.evaluation("Type conversion error: cannot convert string '\(s)' to bool")
            }
        default: throw .noOverload("bool", [value])
        }
    }

    static func toTimestamp(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .timestamp: return value
        case .string(let s): return .timestamp(try CELTimestamp.parse(s))
        case .int(let i): return .timestamp(try CELTimestamp.checked(seconds: i, nanos: 0))
        default: throw .noOverload("timestamp", [value])
        }
    }

    static func toDuration(_ value: CELValue) throws(CELError) -> CELValue {
        switch value {
        case .duration: return value
        case .string(let s): return .duration(try CELDuration.parse(s))
        case .int(let i): return .duration(try CELDuration.checked(seconds: i, nanos: 0))
        default: throw .noOverload("duration", [value])
        }
    }

    private static func rangeError(_ what: String, _ target: String) -> CELError {
        .evaluation("range error: \(what) does not fit in \(target)")
    }
}
