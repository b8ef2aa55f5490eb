// Operators: arithmetic with overflow errors, comparison, membership.

enum Arithmetic {
    static func overflow(_ op: String) -> CELError {
        .evaluation("return error for overflow: integer result of '\(op)' does not fit in 64 bits")
    }

    static func add(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.addingReportingOverflow(y)
            if o { throw overflow("+") }
            return .int(r)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.addingReportingOverflow(y)
            if o { throw overflow("+") }
            return .uint(r)
        case (.double(let x), .double(let y)): return .double(x + y)
        case (.string(let x), .string(let y)): return .string(x + y)
        case (.bytes(let x), .bytes(let y)): return .bytes(x + y)
        case (.list(let x), .list(let y)): return .list(x + y)
        case (.timestamp(let t), .duration(let d)), (.duration(let d), .timestamp(let t)):
            return .timestamp(try t.adding(d))
        case (.duration(let x), .duration(let y)): return .duration(try x.adding(y))
        default: throw .noOverload("_+_", [a, b])
        }
    }

    static func subtract(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.subtractingReportingOverflow(y)
            if o { throw overflow("-") }
            return .int(r)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.subtractingReportingOverflow(y)
            if o { throw overflow("-") }
            return .uint(r)
        case (.double(let x), .double(let y)): return .double(x - y)
        case (.timestamp(let t), .duration(let d)): return .timestamp(try t.adding(d.negated()))
        case (.timestamp(let x), .timestamp(let y)): return .duration(try x.difference(y))
        case (.duration(let x), .duration(let y)): return .duration(try x.adding(y.negated()))
        default: throw .noOverload("_-_", [a, b])
        }
    }

    static func multiply(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            let (r, o) = x.multipliedReportingOverflow(by: y)
            if o { throw overflow("*") }
            return .int(r)
        case (.uint(let x), .uint(let y)):
            let (r, o) = x.multipliedReportingOverflow(by: y)
            if o { throw overflow("*") }
            return .uint(r)
        case (.double(let x), .double(let y)): return .double(x * y)
        default: throw .noOverload("_*_", [a, b])
        }
    }

    static func divide(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            if y == 0 { throw CELError.evaluation("divide by zero") }
            let (r, o) = x.dividedReportingOverflow(by: y)
            if o { throw overflow("/") }
            return .int(r)
        case (.uint(let x), .uint(let y)):
            if y == 0 { throw CELError.evaluation("divide by zero") }
            return .uint(x / y)
        case (.double(let x), .double(let y)): return .double(x / y)
        default: throw .noOverload("_/_", [a, b])
        }
    }

    static func modulo(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            if y == 0 { throw CELError.evaluation("modulus by zero") }
            let (r, o) = x.remainderReportingOverflow(dividingBy: y)
            if o { throw overflow("%") }
            return .int(r)
        case (.uint(let x), .uint(let y)):
            if y == 0 { throw CELError.evaluation("modulus by zero") }
            return .uint(x % y)
        default: throw .noOverload("_%_", [a, b])
        }
    }

    static func negate(_ a: CELValue) throws(CELError) -> CELValue {
        switch a {
        case .int(let x):
            if x == .min { throw overflow("-") }
            return .int(-x)
        case .double(let x): return .double(-x)
        case .duration(let d): return .duration(d.negated())
        default: throw .noOverload("-_", [a])
        }
    }

    static func equals(_ a: CELValue, _ b: CELValue) -> CELValue { .bool(a.celEquals(b)) }
    static func notEquals(_ a: CELValue, _ b: CELValue) -> CELValue { .bool(!a.celEquals(b)) }

    static func less(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        .bool((try CELValue.order(a, b, function: "_<_")).map { $0 < 0 } ?? false)
    }
    static func lessOrEqual(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        .bool((try CELValue.order(a, b, function: "_<=_")).map { $0 <= 0 } ?? false)
    }
    static func greater(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        .bool((try CELValue.order(a, b, function: "_>_")).map { $0 > 0 } ?? false)
    }
    static func greaterOrEqual(_ a: CELValue, _ b: CELValue) throws(CELError) -> CELValue {
        .bool((try CELValue.order(a, b, function: "_>=_")).map { $0 >= 0 } ?? false)
    }

    static func contains(_ element: CELValue, _ container: CELValue) throws(CELError) -> CELValue {
        switch container {
        case .list(let items): return .bool(items.contains { $0.celEquals(element) })
        case .map(let map):
            switch element {
            case .int, .uint, .double, .bool, .string: return .bool(map[element] != nil)
            default: return .bool(false)
            }
        default: throw .noOverload("@in", [element, container])
        }
    }
}
