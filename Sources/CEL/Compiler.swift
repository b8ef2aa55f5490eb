// Turns the syntax tree into closures; local variables get slots, functions are looked up once.

struct Compiler {
    let source: String
    private var scopes: [(name: String, slot: Int)] = []
    private var nextSlot = 0
    private(set) var maximumSlots = 0
    /// Names of activation variables the expression reads (roots of `a.b.c`, not comprehension variables).
    private(set) var referencedVariables: Set<String> = []

    private let sourceMap: SourceMap

    init(source: String) {
        self.source = source
        sourceMap = SourceMap(source)
    }

    static let typeNames: [String: CELValue] = {
        var names: [String: CELValue] = [:]
        for name in [
            "int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "optional_type",
            "google.protobuf.Timestamp", "google.protobuf.Duration",
        ] {
            names[name] = .type(CELType(name: name))
        }
        return names
    }()

    private func position(_ offset: Int) -> CELSourcePosition {
        sourceMap.position(of: offset)
    }

    private func slot(of name: String) -> Int? {
        scopes.last { $0.name == name }?.slot
    }

    private mutating func pushVariable(_ name: String) -> Int {
        let slot = nextSlot
        nextSlot += 1
        maximumSlots = max(maximumSlots, nextSlot)
        scopes.append((name, slot))
        return slot
    }

    private mutating func popVariables(_ count: Int) {
        scopes.removeLast(count)
        nextSlot -= count
    }

    // MARK: - Expressions

    mutating func compile(_ expr: Expr) throws(CELError) -> Evaluator {
        let at = position(expr.offset)
        switch expr.kind {
        case .literal(let value):
            return { _ in value }
        case .identifier(let name):
            return identifier(name, at: at)
        case .select(let operand, let field, let optional):
            if !optional { return try compileSelectChain(expr) }
            return try compileSelect(operand, field, optional: true, at: at)
        case .presence(let operand, let field):
            let target = try compile(operand)
            return { context throws(CELError) in
                try Self.located(at) { () throws(CELError) in try Access.has(try target(context), field) }
            }
        case .index(let operand, let index, let optional):
            let target = try compile(operand)
            let key = try compile(index)
            return { context throws(CELError) in
                let container = try target(context)
                let keyValue = try key(context)
                return try Self.located(at) { () throws(CELError) in
                    try Access.index(container, keyValue, optional: optional)
                }
            }
        case .call(let target, let function, let arguments):
            return try compileCall(target: target, function: function, arguments: arguments, at: at)
        case .not(let operand):
            let inner = try compile(operand)
            return { context throws(CELError) in
                guard case .bool(let b) = try inner(context) else {
                    throw CELError(
                        code: .evaluation, message: "no matching overload for '!' (needs bool)", position: at)
                }
                return .bool(!b)
            }
        case .negate(let operand):
            let inner = try compile(operand)
            return { context throws(CELError) in
                try Self.located(at) { () throws(CELError) in try Arithmetic.negate(try inner(context)) }
            }
        case .and(let left, let right):
            return try compileLogic(left, right, isAnd: true, at: at)
        case .or(let left, let right):
            return try compileLogic(left, right, isAnd: false, at: at)
        case .conditional(let condition, let whenTrue, let whenFalse):
            let test = try compile(condition)
            let yes = try compile(whenTrue)
            let no = try compile(whenFalse)
            return { context throws(CELError) in
                switch try test(context) {
                case .bool(true): return try yes(context)
                case .bool(false): return try no(context)
                case let other:
                    throw CELError(
                        code: .evaluation,
                        message: "no matching overload for '?:': condition is \(other.typeName), not bool",
                        position: at
                    )
                }
            }
        case .list(let elements, let optional):
            var nodes: [Node] = []
            for element in elements { nodes.append(Node(run: try compile(element))) }
            let items = nodes
            if !optional.contains(true) {
                return { context throws(CELError) in
                    var values: [CELValue] = []
                    values.reserveCapacity(items.count)
                    for item in items { values.append(try item.run(context)) }
                    return .list(values)
                }
            }
            return { context throws(CELError) in
                var values: [CELValue] = []
                for (i, item) in items.enumerated() {
                    let value = try item.run(context)
                    if optional[i] {
                        guard case .optional(let wrapped) = value else {
                            throw CELError(
                                code: .evaluation,
                                message: "optional list element '?' needs an optional value, got \(value.typeName)",
                                position: at
                            )
                        }
                        if let wrapped { values.append(wrapped) }
                    } else {
                        values.append(value)
                    }
                }
                return .list(values)
            }
        case .map(let entries):
            var compiled: [(key: Evaluator, value: Evaluator, optional: Bool)] = []
            for entry in entries {
                compiled.append((try compile(entry.key), try compile(entry.value), entry.optional))
            }
            let frozen = compiled
            return { context throws(CELError) in
                var builder = MapBuilder()
                for entry in frozen {
                    let key = try entry.key(context)
                    var value = try entry.value(context)
                    if entry.optional {
                        guard case .optional(let wrapped) = value else {
                            throw CELError(
                                code: .evaluation,
                                message: "optional map entry '?' needs an optional value, got \(value.typeName)",
                                position: at
                            )
                        }
                        guard let wrapped else { continue }
                        value = wrapped
                    }
                    try Self.located(at) { () throws(CELError) in try builder.insert(key, value) }
                }
                return .map(builder.build())
            }
        case .comprehension(let comprehension):
            return try compileComprehension(comprehension, at: at)
        case .bind(let name, let value, let body):
            let initial = try compile(value)
            let slot = pushVariable(name)
            let inner = try compile(body)
            popVariables(1)
            return { context throws(CELError) in
                context.locals[slot] = try initial(context)
                return try inner(context)
            }
        case .optionalMap(let target, let name, let body, let flat):
            let optionalValue = try compile(target)
            let slot = pushVariable(name)
            let inner = try compile(body)
            popVariables(1)
            return { context throws(CELError) in
                let value = try optionalValue(context)
                guard case .optional(let wrapped) = value else {
                    throw CELError(
                        code: .evaluation,
                        message: "\(flat ? "optFlatMap" : "optMap")() needs an optional, got \(value.typeName)",
                        position: at
                    )
                }
                guard let wrapped else { return .optional(nil) }
                context.locals[slot] = wrapped
                let result = try inner(context)
                if !flat { return .optional(result) }
                guard case .optional = result else {
                    throw CELError(
                        code: .evaluation,
                        message: "optFlatMap() body must return an optional, got \(result.typeName)",
                        position: at
                    )
                }
                return result
            }
        }
    }

    @inline(__always)
    static func located<T>(_ at: CELSourcePosition, _ body: () throws(CELError) -> T) throws(CELError) -> T {
        do throws(CELError) {
            return try body()
        } catch {
            var located = error
            if located.position == nil { located.position = at }
            throw located
        }
    }

    private mutating func identifier(_ name: String, at: CELSourcePosition) -> Evaluator {
        if let slot = slot(of: name) {
            return { context in context.locals[slot] }
        }
        referencedVariables.insert(name)
        let typeValue = Self.typeNames[name]
        return { context throws(CELError) in
            if let value = context.variables[name] { return value }
            if let typeValue { return typeValue }
            throw CELError(
                code: .evaluation,
                message: "undeclared reference to '\(name)' (no such variable; a string needs quotes: '\(name)')",
                position: at)
        }
    }

    /// A chain of plain field selections `root.f1.f2…` evaluated in one closure, with a per-field position cache.
    /// When the root is an unbound identifier, qualified variable names (`a.b.c` bound as one name) are tried.
    private mutating func compileSelectChain(_ expr: Expr) throws(CELError) -> Evaluator {
        var reversedFields: [String] = []
        var reversedPositions: [CELSourcePosition] = []
        var current = expr
        while case .select(let operand, let field, optional: false) = current.kind {
            reversedFields.append(field)
            reversedPositions.append(position(current.offset))
            current = operand
        }
        let fields = Array(reversedFields.reversed())
        let positions = Array(reversedPositions.reversed())
        let caches = fields.map { _ in FieldCache() }
        let steps = fields.count
        let root = current
        if case .identifier(let name) = root.kind, slot(of: name) == nil {
            referencedVariables.insert(name)
            let segments = [name] + fields
            let rootPosition = position(root.offset)
            return { context throws(CELError) in
                guard var value = context.variables[name] else {
                    if let qualified = try Self.qualifiedLookup(segments, context) { return qualified }
                    if let typeValue = Self.typeNames[name] {
                        return try Self.selectSteps(typeValue, fields, positions, caches, steps)
                    }
                    throw CELError(
                        code: .evaluation,
                        message:
                            "undeclared reference to '\(name)' (no such variable; a string needs quotes: '\(name)')",
                        position: rootPosition
                    )
                }
                for i in 0..<steps {
                    if case .map(let map) = value, let found = map.value(forField: fields[i], cache: caches[i]) {
                        value = found
                        continue
                    }
                    value = try Self.located(positions[i]) { () throws(CELError) in
                        try Access.select(value, fields[i], optional: false)
                    }
                }
                return value
            }
        }
        let rootEvaluator = try compile(root)
        return { context throws(CELError) in
            try Self.selectSteps(try rootEvaluator(context), fields, positions, caches, steps)
        }
    }

    @inline(__always)
    static func selectSteps(
        _ start: CELValue,
        _ fields: [String],
        _ positions: [CELSourcePosition],
        _ caches: [FieldCache],
        _ steps: Int
    ) throws(CELError) -> CELValue {
        var value = start
        for i in 0..<steps {
            if case .map(let map) = value, let found = map.value(forField: fields[i], cache: caches[i]) {
                value = found
                continue
            }
            value = try located(positions[i]) { () throws(CELError) in
                try Access.select(value, fields[i], optional: false)
            }
        }
        return value
    }

    static func qualifiedLookup(_ segments: [String], _ context: EvaluationContext) throws(CELError) -> CELValue? {
        var length = segments.count
        while length >= 2 {
            let name = segments[0..<length].joined(separator: ".")
            if var value = context.variables[name] {
                for field in segments[length...] { value = try Access.select(value, field, optional: false) }
                return value
            }
            if let typeValue = typeNames[name], length == segments.count { return typeValue }
            length -= 1
        }
        return nil
    }

    private mutating func compileSelect(
        _ operand: Expr,
        _ field: String,
        optional: Bool,
        at: CELSourcePosition
    ) throws(CELError) -> Evaluator {
        let target: Evaluator
        if case .select(let inner, let innerField, let innerOptional) = operand.kind {
            target = try compileSelect(inner, innerField, optional: innerOptional, at: position(operand.offset))
        } else {
            target = try compile(operand)
        }
        if optional {
            return { context throws(CELError) in
                try Self.located(at) { () throws(CELError) in
                    try Access.select(try target(context), field, optional: true)
                }
            }
        }
        return { context throws(CELError) in
            let value = try target(context)
            if case .map(let map) = value, let found = map[field] { return found }
            return try Self.located(at) { () throws(CELError) in try Access.select(value, field, optional: false) }
        }
    }

    // MARK: - Logic

    private mutating func compileLogic(
        _ left: Expr, _ right: Expr, isAnd: Bool, at: CELSourcePosition
    )
        throws(CELError) -> Evaluator
    {
        let lhs = try compile(left)
        let rhs = try compile(right)
        let name = isAnd ? "&&" : "||"
        // `&&` short-circuits on false, `||` on true; errors are absorbed when the other side decides.
        let decisive = !isAnd
        return { context throws(CELError) in
            var firstError: CELError?
            do throws(CELError) {
                switch try lhs(context) {
                case .bool(let b):
                    if b == decisive { return .bool(decisive) }
                case let other:
                    firstError = CELError(
                        code: .evaluation,
                        message: "no matching overload for '\(name)': operand is \(other.typeName), not bool",
                        position: at
                    )
                }
            } catch {
                if error.code == .limit { throw error }
                firstError = error
            }
            let second: CELValue
            do throws(CELError) {
                second = try rhs(context)
            } catch {
                if error.code == .limit { throw error }
                throw firstError ?? error
            }
            switch second {
            case .bool(let b):
                if b == decisive { return .bool(decisive) }
                if let firstError { throw firstError }
                return .bool(b)
            default:
                if let firstError { throw firstError }
                throw CELError(
                    code: .evaluation,
                    message: "no matching overload for '\(name)': operand is \(second.typeName), not bool",
                    position: at
                )
            }
        }
    }

    // MARK: - Calls

    private func namespacedName(_ target: Expr, _ function: String) -> String? {
        var parts = [function]
        var current = target
        while true {
            switch current.kind {
            case .identifier(let name):
                guard slot(of: name) == nil else { return nil }
                parts.append(name)
                return parts.reversed().joined(separator: ".")
            case .select(let operand, let field, optional: false):
                parts.append(field)
                current = operand
            default:
                return nil
            }
        }
    }

    private mutating func compileCall(
        target: Expr?, function: String, arguments: [Expr], at: CELSourcePosition
    )
        throws(CELError) -> Evaluator
    {
        var name = function
        var argumentExprs = arguments
        var table = Functions.global
        if let target {
            if let qualified = namespacedName(target, function),
                Functions.global["\(qualified)/\(arguments.count)"] != nil
                    || Functions.global["\(qualified)/*"] != nil
            {
                name = qualified
            } else {
                table = Functions.member
                argumentExprs = [target] + arguments
            }
        }
        var compiledNodes: [Node] = []
        for argument in argumentExprs { compiledNodes.append(Node(run: try compile(argument))) }
        let compiled = compiledNodes
        let overload = table["\(name)/\(compiled.count)"] ?? table["\(name)/*"]
        guard let overload else {
            let known =
                Functions.global["\(name)/*"] != nil || Functions.member.keys.contains { $0.hasPrefix("\(name)/") }
                || Functions.global.keys.contains { $0.hasPrefix("\(name)/") }
            let message =
                known
                ? "no matching overload for '\(name)' with \(arguments.count) argument(s)"
                : "undeclared reference to function '\(name)'"
            return { context throws(CELError) in
                for argument in compiled { _ = try argument.run(context) }
                throw CELError(code: .evaluation, message: message, position: at)
            }
        }
        switch overload {
        case .unary(let f):
            let a = compiled[0].run
            return { context throws(CELError) in
                let x = try a(context)
                return try Self.located(at) { () throws(CELError) in try f(x) }
            }
        case .binary(let f):
            let a = compiled[0].run
            let b = compiled[1].run
            if name == "_+_" {
                return { context throws(CELError) in
                    let x = try a(context)
                    let y = try b(context)
                    let result = try Self.located(at) { () throws(CELError) in try f(x, y) }
                    switch result {
                    case .string(let s): try context.charge(s.utf8.count / 16)
                    case .list(let l): try context.charge(l.count)
                    default: break
                    }
                    return result
                }
            }
            return { context throws(CELError) in
                let x = try a(context)
                let y = try b(context)
                return try Self.located(at) { () throws(CELError) in try f(x, y) }
            }
        case .ternary(let f):
            let a = compiled[0].run
            let b = compiled[1].run
            let c = compiled[2].run
            return { context throws(CELError) in
                let x = try a(context)
                let y = try b(context)
                let z = try c(context)
                return try Self.located(at) { () throws(CELError) in try f(x, y, z) }
            }
        case .variadic(let f):
            return { context throws(CELError) in
                var values: [CELValue] = []
                values.reserveCapacity(compiled.count)
                for argument in compiled { values.append(try argument.run(context)) }
                let result = try Self.located(at) { () throws(CELError) in try f(values) }
                if case .string(let s) = result { try context.charge(s.utf8.count / 16) }
                if case .list(let l) = result { try context.charge(l.count) }
                return result
            }
        }
    }

    // MARK: - Comprehensions

    private mutating func compileComprehension(
        _ comprehension: Expr.Comprehension, at: CELSourcePosition
    )
        throws(CELError) -> Evaluator
    {
        let range = try compile(comprehension.range)
        let firstSlot = pushVariable(comprehension.first)
        var maybeSecondSlot: Int?
        if let second = comprehension.second { maybeSecondSlot = pushVariable(second) }
        let secondSlot = maybeSecondSlot
        let filter = try comprehension.filter.map { (expr) throws(CELError) in try compile(expr) }
        let body = try compile(comprehension.body)
        popVariables(comprehension.second == nil ? 1 : 2)
        let kind = comprehension.kind
        let isFilterMacro = kind == .filter
        let macroName = "\(kind)"

        return { context throws(CELError) in
            let source = try range(context)
            // Iteration pairs: (first variable, second variable).
            let count: Int
            let list: [CELValue]?
            let map: CELMap?
            switch source {
            case .list(let items):
                list = items
                map = nil
                count = items.count
            case .map(let m):
                list = nil
                map = m
                count = m.count
            default:
                throw CELError(
                    code: .evaluation,
                    message: "\(macroName)() needs a list or map to iterate, got \(source.typeName)",
                    position: at
                )
            }
            var results: [CELValue] = []
            var resultMap = MapBuilder()
            var matches = 0
            var pendingError: CELError?
            for i in 0..<count {
                try context.charge(1)
                let element: CELValue
                if let list {
                    if let secondSlot {
                        context.locals[firstSlot] = .int(Int64(i))
                        context.locals[secondSlot] = list[i]
                    } else {
                        context.locals[firstSlot] = list[i]
                    }
                    element = list[i]
                } else {
                    let entry = map!.entries[i]
                    context.locals[firstSlot] = entry.key
                    if let secondSlot { context.locals[secondSlot] = entry.value }
                    element = entry.key
                }
                if let filter, !isFilterMacro {
                    let keep = try filter(context)
                    guard case .bool(let k) = keep else {
                        throw CELError(code: .evaluation, message: "\(macroName)() filter must be bool", position: at)
                    }
                    if !k { continue }
                }
                switch kind {
                case .all, .exists:
                    let decisive = kind == .exists
                    do throws(CELError) {
                        let value = try body(context)
                        guard case .bool(let b) = value else {
                            throw CELError(
                                code: .evaluation,
                                message: "no matching overload: \(macroName)() predicate returned \(value.typeName)",
                                position: at
                            )
                        }
                        if b == decisive { return .bool(decisive) }
                    } catch {
                        if error.code == .limit { throw error }
                        if pendingError == nil { pendingError = error }
                    }
                case .existsOne:
                    let value = try body(context)
                    guard case .bool(let b) = value else {
                        throw CELError(
                            code: .evaluation,
                            message: "no matching overload: \(macroName)() predicate returned \(value.typeName)",
                            position: at
                        )
                    }
                    if b { matches += 1 }
                case .map, .transformList:
                    results.append(try body(context))
                case .filter:
                    let value = try body(context)
                    guard case .bool(let b) = value else {
                        throw CELError(
                            code: .evaluation,
                            message: "no matching overload: filter() predicate returned \(value.typeName)",
                            position: at
                        )
                    }
                    if b { results.append(element) }
                case .transformMap:
                    let key: CELValue = list != nil ? .int(Int64(i)) : map!.entries[i].key
                    let value = try body(context)
                    try Self.located(at) { () throws(CELError) in try resultMap.insert(key, value) }
                }
            }
            switch kind {
            case .all, .exists:
                if let pendingError { throw pendingError }
                return .bool(kind == .all)
            case .existsOne: return .bool(matches == 1)
            case .map, .transformList, .filter:
                try context.charge(results.count)
                return .list(results)
            case .transformMap: return .map(resultMap.build())
            }
        }
    }
}

/// A compiled subexpression; wrapping the closure keeps arrays of them free of reabstraction thunks.
struct Node: Sendable {
    let run: Evaluator
}
