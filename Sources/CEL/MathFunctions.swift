// The CEL math extension: greatest, least, ceil, floor, round, trunc, abs, sign, isNaN, isInf, isFinite, bit ops.

import Foundation

enum MathFunctions {
    static let global: [String: Overload] = [
        "math.greatest/*": .variadic { (args) throws(CELError) in try extreme(args, greatest: true) },
        "math.least/*": .variadic { (args) throws(CELError) in try extreme(args, greatest: false) },
        "math.ceil/1": .unary { (v) throws(CELError) in try double(v, "math.ceil") { $0.rounded(.up) } },
        "math.floor/1": .unary { (v) throws(CELError) in try double(v, "math.floor") { $0.rounded(.down) } },
        "math.round/1": .unary { (v) throws(CELError) in
            try double(v, "math.round") { $0.rounded(.toNearestOrAwayFromZero) }
        },
        "math.trunc/1": .unary { (v) throws(CELError) in try double(v, "math.trunc") { $0.rounded(.towardZero) } },
        "math.abs/1": .unary(abs),
        "math.sign/1": .unary(sign),
        "math.isNaN/1": .unary { (v) throws(CELError) in try predicate(v, "math.isNaN") { $0.isNaN } },
        "math.isInf/1": .unary { (v) throws(CELError) in try predicate(v, "math.isInf") { $0.isInfinite } },
        "math.isFinite/1": .unary { (v) throws(CELError) in try predicate(v, "math.isFinite") { $0.isFinite } },
        "math.bitAnd/2": .binary { (a, b) throws(CELError) in try bits(a, b, "math.bitAnd", &, &) },
        "math.bitOr/2": .binary { (a, b) throws(CELError) in try bits(a, b, "math.bitOr", |, |) },
        "math.bitXor/2": .binary { (a, b) throws(CELError) in try bits(a, b, "math.bitXor", ^, ^) },
        "math.bitNot/1": .unary(bitNot),
        "math.bitShiftLeft/2": .binary { (a, b) throws(CELError) in try shift(a, b, left: true) },
        "math.bitShiftRight/2": .binary { (a, b) throws(CELError) in try shift(a, b, left: false) },
        "math.sqrt/1": .unary { (v) throws(CELError) in try numeric(v, "math.sqrt") { $0.squareRoot() } },
    ]

    private static func extreme(_ args: [CELValue], greatest: Bool) throws(CELError) -> CELValue {
        let name = greatest ? "math.greatest" : "math.least"
        var values = args
        if args.count == 1, case .list(let items) = args[0] { values = items }
        guard !values.isEmpty else { throw CELError.evaluation("\(name)() needs at least one argument") }
        var best = values[0]
        for value in values {
            switch value {
            case .int, .uint, .double: break
            default: throw .noOverload(name, args)
            }
            guard let order = CELValue.compareNumbers(value, best) else { continue }
            if greatest ? order > 0 : order < 0 { best = value }
        }
        return best
    }

    private static func double(_ v: CELValue, _ name: String, _ f: (Double) -> Double) throws(CELError) -> CELValue {
        guard case .double(let d) = v else { throw .noOverload(name, [v]) }
        return .double(f(d))
    }

    private static func numeric(_ v: CELValue, _ name: String, _ f: (Double) -> Double) throws(CELError) -> CELValue {
        switch v {
        case .double(let d): return .double(f(d))
        case .int(let i): return .double(f(Double(i)))
        case .uint(let u): return .double(f(Double(u)))
        default: throw .noOverload(name, [v])
        }
    }

    private static func predicate(_ v: CELValue, _ name: String, _ f: (Double) -> Bool) throws(CELError) -> CELValue {
        guard case .double(let d) = v else { throw .noOverload(name, [v]) }
        return .bool(f(d))
    }

    private static func abs(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .int(let i):
            if i == .min { throw CELError.evaluation("overflow: math.abs(\(i)) does not fit in int") }
            return .int(Swift.abs(i))
        case .uint: return v
        case .double(let d): return .double(Swift.abs(d))
        default: throw .noOverload("math.abs", [v])
        }
    }

    private static func sign(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .int(let i): return .int(i.signum())
        case .uint(let u): return .uint(u == 0 ? 0 : 1)
        case .double(let d): return .double(d.isNaN ? d : (d > 0 ? 1 : (d < 0 ? -1 : 0)))
        default: throw .noOverload("math.sign", [v])
        }
    }

    private static func bits(
        _ a: CELValue,
        _ b: CELValue,
        _ name: String,
        _ intOp: (Int64, Int64) -> Int64,
        _ uintOp: (UInt64, UInt64) -> UInt64
    ) throws(CELError) -> CELValue {
        switch (a, b) {
        case (.int(let x), .int(let y)): return .int(intOp(x, y))
        case (.uint(let x), .uint(let y)): return .uint(uintOp(x, y))
        default: throw .noOverload(name, [a, b])
        }
    }

    private static func bitNot(_ v: CELValue) throws(CELError) -> CELValue {
        switch v {
        case .int(let i): return .int(~i)
        case .uint(let u): return .uint(~u)
        default: throw .noOverload("math.bitNot", [v])
        }
    }

    private static func shift(_ a: CELValue, _ b: CELValue, left: Bool) throws(CELError) -> CELValue {
        let name = left ? "math.bitShiftLeft" : "math.bitShiftRight"
        guard case .int(let amount) = b else { throw .noOverload(name, [a, b]) }
        guard amount >= 0 else { throw CELError.evaluation("\(name)() negative offset: \(amount)") }
        switch a {
        case .int(let i):
            if amount >= 64 { return .int(0) }
            let u = UInt64(bitPattern: i)
            return .int(Int64(bitPattern: left ? u << UInt64(amount) : u >> UInt64(amount)))
        case .uint(let u):
            if amount >= 64 { return .uint(0) }
            return .uint(left ? u << UInt64(amount) : u >> UInt64(amount))
        default: throw .noOverload(name, [a, b])
        }
    }
}
