// Static facts about an expression, found without evaluating it: its result type when the syntax decides it, the
// divisions that can only be integer divisions, and the `path == literal` tests every match must pass.

/// The type an expression has whatever its input, or `.dyn` when only the input decides.
public struct CELStaticType: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    private init(_ name: String) { self.name = name }

    public static let int = Self("int")
    public static let uint = Self("uint")
    public static let double = Self("double")
    public static let bool = Self("bool")
    public static let string = Self("string")
    public static let bytes = Self("bytes")
    public static let null = Self("null")
    public static let list = Self("list")
    public static let map = Self("map")
    public static let timestamp = Self("timestamp")
    public static let duration = Self("duration")
    public static let type = Self("type")
    public static let optional = Self("optional")
    /// Decided by the input (a field of `payload`, a comprehension variable, …).
    public static let dyn = Self("dyn")

    /// True for `int` and `uint`.
    public var isInteger: Bool { self == .int || self == .uint }

    public var description: String { name }

    static func of(_ value: CELValue) -> Self {
        switch value {
        case .null: .null
        case .bool: .bool
        case .int: .int
        case .uint: .uint
        case .double: .double
        case .string: .string
        case .bytes: .bytes
        case .list: .list
        case .map: .map
        case .timestamp: .timestamp
        case .duration: .duration
        case .type: .type
        case .optional: .optional
        }
    }
}

/// What ``CELEnvironment/analyze(_:fieldTypes:)`` finds in an expression.
public struct CELAnalysis: Sendable {
    /// A division whose operands are integers (or an integer and an input value, which must then be an integer
    /// too, since CEL has no mixed arithmetic): it truncates.
    public struct IntegerDivision: Sendable, Hashable {
        /// Where the `/` is.
        public var position: CELSourcePosition
        /// The divisor when it is an integer literal (`100` in `x / 100`).
        public var literalDivisor: Int64?
    }

    /// A test every record that makes the expression true passes: `path == value`, `path in [values]` or
    /// `path != value`, found among the operands of the top-level `&&` chain.
    public struct Requirement: Sendable, Hashable {
        /// A field path from a root name, e.g. `payload.type`.
        public var path: String
        /// Nil when any value but `excluded` may pass.
        public var allowed: Set<CELValue>?
        public var excluded: Set<CELValue>
    }

    /// The result type of the whole expression.
    public var resultType: CELStaticType
    public var integerDivisions: [IntegerDivision]
    /// Keyed by path; each path's tests are merged.
    public var requirements: [String: Requirement]

    /// True when no record can make both expressions true, as far as their `requirements` tell.
    public func excludes(_ other: CELAnalysis) -> Bool {
        for (path, mine) in requirements {
            guard let theirs = other.requirements[path] else { continue }
            switch (mine.allowed, theirs.allowed) {
            case (let a?, let b?):
                if a.isDisjoint(with: b) { return true }
            case (let a?, nil):
                if a.isSubset(of: theirs.excluded) { return true }
            case (nil, let b?):
                if b.isSubset(of: mine.excluded) { return true }
            case (nil, nil): break
            }
        }
        return false
    }
}

extension CELEnvironment {
    /// Parses `source` and finds its static facts.
    /// - Parameters:
    ///   - source: the expression.
    ///   - fieldTypes: known types of `root.field` selections, e.g. `["variables": ["amount": .int]]`.
    /// - Throws: `CELError` with code `.parse` when the expression does not parse.
    public func analyze(
        _ source: String, fieldTypes: [String: [String: CELStaticType]] = [:]
    ) throws(CELError)
        -> CELAnalysis
    {
        var parser = try Parser(source: source, limits: limits, macrosEnabled: macrosEnabled)
        let expr = try parser.parse()
        var analyzer = Analyzer(sourceMap: SourceMap(source), fieldTypes: fieldTypes)
        let type = analyzer.type(of: expr)
        var requirements: [String: CELAnalysis.Requirement] = [:]
        for conjunct in Analyzer.conjuncts(expr) {
            guard let found = Analyzer.requirement(conjunct) else { continue }
            if var existing = requirements[found.path] {
                if let allowed = found.allowed {
                    existing.allowed = existing.allowed.map { $0.intersection(allowed) } ?? allowed
                }
                existing.excluded.formUnion(found.excluded)
                requirements[found.path] = existing
            } else {
                requirements[found.path] = found
            }
        }
        return CELAnalysis(resultType: type, integerDivisions: analyzer.divisions, requirements: requirements)
    }
}

private struct Analyzer {
    let sourceMap: SourceMap
    let fieldTypes: [String: [String: CELStaticType]]
    var bound: [String] = []
    var divisions: [CELAnalysis.IntegerDivision] = []

    static let resultTypes: [String: CELStaticType] = [
        "int": .int, "uint": .uint, "double": .double, "string": .string, "bytes": .bytes, "bool": .bool,
        "timestamp": .timestamp, "duration": .duration, "type": .type, "size": .int, "matches": .bool,
        "contains": .bool, "startsWith": .bool, "endsWith": .bool, "hasValue": .bool, "_==_": .bool, "_!=_": .bool,
        "_<_": .bool, "_<=_": .bool, "_>_": .bool, "_>=_": .bool, "@in": .bool, "upperAscii": .string,
        "lowerAscii": .string, "trim": .string, "replace": .string, "substring": .string, "charAt": .string,
        "format": .string, "join": .string, "quote": .string, "reverse": .string, "indexOf": .int,
        "lastIndexOf": .int, "split": .list, "getFullYear": .int, "getMonth": .int, "getDate": .int,
        "getDayOfMonth": .int, "getDayOfWeek": .int, "getDayOfYear": .int, "getHours": .int, "getMinutes": .int,
        "getSeconds": .int, "getMilliseconds": .int, "optional.of": .optional, "optional.none": .optional,
        "optional.ofNonZeroValue": .optional, "base64.encode": .string, "base64.decode": .bytes,
    ]

    mutating func type(of expr: Expr) -> CELStaticType {
        switch expr.kind {
        case .literal(let value):
            return .of(value)
        case .identifier:
            return .dyn
        case .select(let operand, let field, let optional):
            _ = type(of: operand)
            if !optional, case .identifier(let root) = operand.kind, !bound.contains(root),
                let known = fieldTypes[root]?[field]
            {
                return known
            }
            return optional ? .optional : .dyn
        case .presence(let operand, _):
            _ = type(of: operand)
            return .bool
        case .index(let operand, let index, let optional):
            _ = type(of: operand)
            _ = type(of: index)
            return optional ? .optional : .dyn
        case .call(let target, let function, let arguments):
            if let target { _ = type(of: target) }
            let types = arguments.map { type(of: $0) }
            return call(function, hasTarget: target != nil, arguments, types, at: expr.offset)
        case .not, .and, .or:
            switch expr.kind {
            case .not(let operand): _ = type(of: operand)
            case .and(let a, let b), .or(let a, let b):
                _ = type(of: a)
                _ = type(of: b)
            default: break
            }
            return .bool
        case .negate(let operand):
            let operandType = type(of: operand)
            return operandType == .uint ? .dyn : operandType
        case .conditional(let condition, let then, let otherwise):
            _ = type(of: condition)
            let a = type(of: then)
            let b = type(of: otherwise)
            return a == b ? a : .dyn
        case .list(let elements, _):
            for element in elements { _ = type(of: element) }
            return .list
        case .map(let entries):
            for entry in entries {
                _ = type(of: entry.key)
                _ = type(of: entry.value)
            }
            return .map
        case .comprehension(let comprehension):
            _ = type(of: comprehension.range)
            bound.append(comprehension.first)
            if let second = comprehension.second { bound.append(second) }
            if let filter = comprehension.filter { _ = type(of: filter) }
            _ = type(of: comprehension.body)
            bound.removeLast(comprehension.second == nil ? 1 : 2)
            switch comprehension.kind {
            case .all, .exists, .existsOne: return .bool
            case .map, .filter, .transformList: return .list
            case .transformMap: return .map
            }
        case .bind(let name, let value, let body):
            _ = type(of: value)
            bound.append(name)
            defer { bound.removeLast() }
            return type(of: body)
        case .optionalMap(let target, let name, let body, _):
            _ = type(of: target)
            bound.append(name)
            _ = type(of: body)
            bound.removeLast()
            return .optional
        }
    }

    private mutating func call(
        _ function: String, hasTarget: Bool, _ arguments: [Expr], _ types: [CELStaticType], at offset: Int
    ) -> CELStaticType {
        guard ["_+_", "_-_", "_*_", "_/_", "_%_"].contains(function), types.count == 2 else {
            if function == "dyn" { return .dyn }
            return Self.resultTypes[function] ?? .dyn
        }
        let (left, right) = (types[0], types[1])
        let result: CELStaticType
        if left == right {
            result = left
        } else if left == .dyn || right == .dyn {
            // No mixed arithmetic: the input value must have the other operand's type (or the call fails).
            let known = left == .dyn ? right : left
            let numeric: [CELStaticType] = [.int, .uint, .double]
            result =
                numeric.contains(known) || (function == "_+_" && [.string, .bytes, .list].contains(known))
                ? known : .dyn
        } else {
            result = .dyn
        }
        if function == "_/_" && result.isInteger {
            var divisor: Int64?
            if case .literal(.int(let value)) = arguments[1].kind { divisor = value }
            divisions.append(.init(position: sourceMap.position(of: offset), literalDivisor: divisor))
        }
        return result
    }

    // MARK: - Requirements

    static func conjuncts(_ expr: Expr) -> [Expr] {
        if case .and(let a, let b) = expr.kind { return conjuncts(a) + conjuncts(b) }
        return [expr]
    }

    /// `a.b.c` as text, when `expr` is a plain selection chain from a name.
    static func path(_ expr: Expr) -> String? {
        switch expr.kind {
        case .identifier(let name): return name
        case .select(let operand, let field, optional: false): return path(operand).map { "\($0).\(field)" }
        default: return nil
        }
    }

    static func literal(_ expr: Expr) -> CELValue? {
        if case .literal(let value) = expr.kind { return value }
        return nil
    }

    static func requirement(_ expr: Expr) -> CELAnalysis.Requirement? {
        guard case .call(target: nil, let function, let arguments) = expr.kind, arguments.count == 2 else {
            return nil
        }
        switch function {
        case "_==_", "_!=_":
            let pair: (String, CELValue)? =
                if let path = path(arguments[0]), let value = literal(arguments[1]) {
                    (path, value)
                } else if let path = path(arguments[1]), let value = literal(arguments[0]) {
                    (path, value)
                } else {
                    nil
                }
            guard let (path, value) = pair else { return nil }
            return function == "_==_"
                ? .init(path: path, allowed: [value], excluded: [])
                : .init(path: path, allowed: nil, excluded: [value])
        case "@in":
            guard let path = path(arguments[0]), case .list(let elements, _) = arguments[1].kind else { return nil }
            let values = elements.compactMap(literal)
            guard values.count == elements.count else { return nil }
            return .init(path: path, allowed: Set(values), excluded: [])
        default:
            return nil
        }
    }
}
