// Recursive-descent parser for the CEL grammar (cel-spec langdef), with macro expansion.
// Recursion depth and tree height are checked before descending, so deeply nested input fails cleanly.

struct Parser {
    private var tokens: [Token]
    private var position = 0
    private var recursion = 0
    private let source: String
    private let limits: CELLimits
    private let macrosEnabled: Bool

    init(source: String, limits: CELLimits, macrosEnabled: Bool) throws(CELError) {
        self.source = source
        self.limits = limits
        self.macrosEnabled = macrosEnabled
        if source.utf8.count > limits.maximumExpressionSize {
            throw CELError(
                code: .limit,
                message:
                    "expression is \(source.utf8.count) bytes, over the limit of \(limits.maximumExpressionSize); "
                    + "split it into smaller expressions",
                position: nil
            )
        }
        var lexer = Lexer(source: source)
        tokens = try lexer.tokenize()
    }

    mutating func parse() throws(CELError) -> Expr {
        let expr = try parseExpression()
        guard case .end = current.kind else {
            throw error("unexpected \(describe(current)) after the end of the expression", at: current.offset)
        }
        return expr
    }

    // MARK: - Helpers

    private var current: Token { tokens[position] }

    private func peekKind(_ ahead: Int) -> Token.Kind {
        position + ahead < tokens.count ? tokens[position + ahead].kind : .end
    }

    private func error(_ message: String, at offset: Int, code: CELError.Code = .parse) -> CELError {
        let position = SourceMap.position(of: offset, in: source)
        let excerpt = SourceMap.excerpt(of: position, in: source)
        return CELError(code: code, message: "\(message)\n\(excerpt)", position: position)
    }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .end: "end of input"
        case .punctuation(let p): "'\(p)'"
        case .identifier(let name): "'\(name)'"
        case .quotedIdentifier(let name): "`\(name)`"
        case .string: "string literal"
        case .bytes: "bytes literal"
        default: "number"
        }
    }

    private func isPunctuation(_ p: String) -> Bool {
        if case .punctuation(let value) = current.kind, value == p { return true }
        return false
    }

    private mutating func accept(_ p: String) -> Bool {
        if isPunctuation(p) {
            position += 1
            return true
        }
        return false
    }

    private mutating func expect(_ p: String, _ context: @autoclosure () -> String) throws(CELError) {
        guard accept(p) else {
            throw error("expected '\(p)' \(context()), found \(describe(current))", at: current.offset)
        }
    }

    private func make(_ kind: Expr.Kind, at offset: Int, children: [Expr]) throws(CELError) -> Expr {
        var depth = 0
        for child in children where child.depth > depth { depth = child.depth }
        depth += 1
        if depth > limits.maximumDepth {
            throw error(
                "expression nests deeper than the limit of \(limits.maximumDepth); simplify it",
                at: offset,
                code: .limit
            )
        }
        return Expr(kind: kind, offset: offset, depth: depth)
    }

    private func call(_ function: String, _ arguments: [Expr], at offset: Int) throws(CELError) -> Expr {
        try make(.call(target: nil, function: function, arguments: arguments), at: offset, children: arguments)
    }

    // MARK: - Grammar

    private mutating func parseExpression() throws(CELError) -> Expr {
        recursion += 1
        defer { recursion -= 1 }
        if recursion > limits.maximumDepth {
            throw error(
                "expression nests deeper than the limit of \(limits.maximumDepth); simplify it",
                at: current.offset,
                code: .limit
            )
        }
        let condition = try parseOr()
        guard isPunctuation("?") else { return condition }
        let offset = current.offset
        position += 1
        let whenTrue = try parseOr()
        try expect(":", "in conditional expression 'condition ? a : b'")
        let whenFalse = try parseExpression()
        return try make(
            .conditional(condition, whenTrue, whenFalse),
            at: offset,
            children: [condition, whenTrue, whenFalse]
        )
    }

    private mutating func parseOr() throws(CELError) -> Expr {
        var operands = [try parseAnd()]
        var offsets: [Int] = []
        while isPunctuation("||") {
            offsets.append(current.offset)
            position += 1
            operands.append(try parseAnd())
        }
        return try balance(operands, offsets, isAnd: false)
    }

    private mutating func parseAnd() throws(CELError) -> Expr {
        var operands = [try parseRelation()]
        var offsets: [Int] = []
        while isPunctuation("&&") {
            offsets.append(current.offset)
            position += 1
            operands.append(try parseRelation())
        }
        return try balance(operands, offsets, isAnd: true)
    }

    /// Builds a balanced tree of `&&`/`||` so long chains stay shallow (as cel-go does).
    private func balance(_ operands: [Expr], _ offsets: [Int], isAnd: Bool) throws(CELError) -> Expr {
        func build(_ low: Int, _ high: Int) throws(CELError) -> Expr {
            if low == high { return operands[low] }
            let middle = (low + high + 1) / 2
            let left = try build(low, middle - 1)
            let right = try build(middle, high)
            let kind: Expr.Kind = isAnd ? .and(left, right) : .or(left, right)
            return try make(kind, at: offsets[middle - 1], children: [left, right])
        }
        return try build(0, operands.count - 1)
    }

    private mutating func parseRelation() throws(CELError) -> Expr {
        var left = try parseAddition()
        while true {
            let offset = current.offset
            let function: String
            switch current.kind {
            case .punctuation("<"): function = "_<_"
            case .punctuation("<="): function = "_<=_"
            case .punctuation(">"): function = "_>_"
            case .punctuation(">="): function = "_>=_"
            case .punctuation("=="): function = "_==_"
            case .punctuation("!="): function = "_!=_"
            case .identifier("in"): function = "@in"
            default: return left
            }
            position += 1
            let right = try parseAddition()
            left = try call(function, [left, right], at: offset)
        }
    }

    private mutating func parseAddition() throws(CELError) -> Expr {
        var left = try parseMultiplication()
        while true {
            let offset = current.offset
            let function: String
            switch current.kind {
            case .punctuation("+"): function = "_+_"
            case .punctuation("-"): function = "_-_"
            default: return left
            }
            position += 1
            let right = try parseMultiplication()
            left = try call(function, [left, right], at: offset)
        }
    }

    private mutating func parseMultiplication() throws(CELError) -> Expr {
        var left = try parseUnary()
        while true {
            let offset = current.offset
            let function: String
            switch current.kind {
            case .punctuation("*"): function = "_*_"
            case .punctuation("/"): function = "_/_"
            case .punctuation("%"): function = "_%_"
            default: return left
            }
            position += 1
            let right = try parseUnary()
            left = try call(function, [left, right], at: offset)
        }
    }

    private mutating func parseUnary() throws(CELError) -> Expr {
        var operators: [(isNot: Bool, offset: Int)] = []
        while isPunctuation("!") || isPunctuation("-") {
            operators.append((isPunctuation("!"), current.offset))
            position += 1
        }
        var expr: Expr
        // Fold a minus directly before an integer literal into a negative literal (allows -9223372036854775808).
        if let last = operators.last, !last.isNot {
            switch current.kind {
            case .intMinOverflow:
                expr = Expr(kind: .literal(.int(.min)), offset: last.offset, depth: 1)
                position += 1
                operators.removeLast()
                expr = try parseMemberSuffixes(expr)
            case .int(let value)
            where !isMemberSuffixNext(1):
                expr = Expr(kind: .literal(.int(-value)), offset: last.offset, depth: 1)
                position += 1
                operators.removeLast()
            case .double(let value) where !isMemberSuffixNext(1):
                expr = Expr(kind: .literal(.double(-value)), offset: last.offset, depth: 1)
                position += 1
                operators.removeLast()
            default:
                expr = try parseMember()
            }
        } else {
            expr = try parseMember()
        }
        for op in operators.reversed() {
            expr = try make(op.isNot ? .not(expr) : .negate(expr), at: op.offset, children: [expr])
        }
        return expr
    }

    private func isMemberSuffixNext(_ ahead: Int) -> Bool {
        switch peekKind(ahead) {
        case .punctuation("."), .punctuation("["): true
        default: false
        }
    }

    private mutating func parseMember() throws(CELError) -> Expr {
        let primary = try parsePrimary()
        return try parseMemberSuffixes(primary)
    }

    private mutating func parseMemberSuffixes(_ start: Expr) throws(CELError) -> Expr {
        var expr = start
        while true {
            let offset = current.offset
            if accept(".") {
                let optional = accept("?")
                let nameOffset = current.offset
                let name: String
                switch current.kind {
                case .identifier(let identifier): name = identifier
                case .quotedIdentifier(let identifier): name = identifier
                default:
                    throw error("expected a field or method name after '.', found \(describe(current))", at: nameOffset)
                }
                let isQuoted: Bool
                if case .quotedIdentifier = current.kind { isQuoted = true } else { isQuoted = false }
                position += 1
                if !optional && !isQuoted && isPunctuation("(") {
                    position += 1
                    let arguments = try parseArguments(closing: ")")
                    expr = try memberCall(target: expr, name: name, arguments: arguments, at: nameOffset)
                } else {
                    expr = try make(.select(expr, name, optional: optional), at: offset, children: [expr])
                }
            } else if accept("[") {
                let optional = accept("?")
                let index = try parseExpression()
                try expect("]", "to close the index expression")
                expr = try make(.index(expr, index, optional: optional), at: offset, children: [expr, index])
            } else {
                return expr
            }
        }
    }

    private mutating func parseArguments(closing: String) throws(CELError) -> [Expr] {
        var arguments: [Expr] = []
        if accept(closing) { return arguments }
        while true {
            arguments.append(try parseExpression())
            if accept(closing) { return arguments }
            try expect(",", "or '\(closing)' in argument list")
        }
    }

    private mutating func parsePrimary() throws(CELError) -> Expr {
        let token = current
        let offset = token.offset
        switch token.kind {
        case .int(let value):
            position += 1
            return Expr(kind: .literal(.int(value)), offset: offset, depth: 1)
        case .intMinOverflow:
            throw error("integer literal out of range (int is 64-bit signed)", at: offset)
        case .uint(let value):
            position += 1
            return Expr(kind: .literal(.uint(value)), offset: offset, depth: 1)
        case .double(let value):
            position += 1
            return Expr(kind: .literal(.double(value)), offset: offset, depth: 1)
        case .string(let value):
            position += 1
            return Expr(kind: .literal(.string(value)), offset: offset, depth: 1)
        case .bytes(let value):
            position += 1
            return Expr(kind: .literal(.bytes(value)), offset: offset, depth: 1)
        case .identifier(let name):
            position += 1
            return try identifier(name, at: offset)
        case .punctuation("."):
            position += 1
            guard case .identifier(let name) = current.kind else {
                throw error("expected an identifier after leading '.', found \(describe(current))", at: current.offset)
            }
            position += 1
            return try identifier(name, at: offset)
        case .punctuation("("):
            position += 1
            let inner = try parseExpression()
            let text = source
            try expect(")", "to close '(' at column \(SourceMap.position(of: offset, in: text).column)")
            return inner
        case .punctuation("["):
            position += 1
            var elements: [Expr] = []
            var optional: [Bool] = []
            while !isPunctuation("]") {
                optional.append(accept("?"))
                elements.append(try parseExpression())
                if !accept(",") { break }
            }
            try expect("]", "to close the list literal")
            return try make(.list(elements, optional: optional), at: offset, children: elements)
        case .punctuation("{"):
            position += 1
            var entries: [Expr.MapEntry] = []
            var children: [Expr] = []
            while !isPunctuation("}") {
                let optional = accept("?")
                let key = try parseExpression()
                try expect(":", "between map key and value")
                let value = try parseExpression()
                entries.append(Expr.MapEntry(key: key, value: value, optional: optional))
                children.append(key)
                children.append(value)
                if !accept(",") { break }
            }
            try expect("}", "to close the map literal")
            return try make(.map(entries), at: offset, children: children)
        case .quotedIdentifier(let name):
            throw error("quoted identifier `\(name)` is only allowed as a field name after '.'", at: offset)
        case .end:
            throw error("unexpected end of input; the expression is incomplete", at: offset)
        case .punctuation(let p):
            throw error("unexpected '\(p)'", at: offset)
        }
    }

    private mutating func identifier(_ name: String, at offset: Int) throws(CELError) -> Expr {
        switch name {
        case "true": return Expr(kind: .literal(.bool(true)), offset: offset, depth: 1)
        case "false": return Expr(kind: .literal(.bool(false)), offset: offset, depth: 1)
        case "null": return Expr(kind: .literal(.null), offset: offset, depth: 1)
        default: break
        }
        if Lexer.reserved.contains(name) || name == "in" {
            throw error("'\(name)' is a reserved word and cannot be used as an identifier", at: offset)
        }
        if accept("(") {
            let arguments = try parseArguments(closing: ")")
            return try globalCall(name, arguments, at: offset)
        }
        return Expr(kind: .identifier(name), offset: offset, depth: 1)
    }

    // MARK: - Macros

    private func variableName(_ expr: Expr, macro: String) throws(CELError) -> String {
        guard case .identifier(let name) = expr.kind else {
            throw error("argument of \(macro)() must be a simple variable name", at: expr.offset)
        }
        return name
    }

    private func globalCall(_ name: String, _ arguments: [Expr], at offset: Int) throws(CELError) -> Expr {
        if macrosEnabled && name == "has" && arguments.count == 1 {
            guard case .select(let operand, let field, optional: false) = arguments[0].kind else {
                throw error("has() needs a field selection argument, like has(a.b)", at: arguments[0].offset)
            }
            return try make(.presence(operand, field), at: offset, children: [operand])
        }
        return try call(name, arguments, at: offset)
    }

    private func memberCall(target: Expr, name: String, arguments: [Expr], at offset: Int) throws(CELError) -> Expr {
        guard macrosEnabled else {
            return try make(
                .call(target: target, function: name, arguments: arguments),
                at: offset,
                children: [target] + arguments
            )
        }
        typealias Kind = Expr.Comprehension.Kind
        var comprehension: Expr.Comprehension?
        switch (name, arguments.count) {
        case ("all", 2), ("exists", 2), ("exists_one", 2), ("existsOne", 2), ("map", 2), ("filter", 2):
            let kinds: [String: Kind] = [
                "all": .all, "exists": .exists, "exists_one": .existsOne, "existsOne": .existsOne, "map": .map,
                "filter": .filter,
            ]
            let variable = try variableName(arguments[0], macro: name)
            let isFilter = name == "filter"
            comprehension = Expr.Comprehension(
                kind: kinds[name]!,
                range: target,
                first: variable,
                second: nil,
                filter: isFilter ? arguments[1] : nil,
                body: arguments[1]
            )
        case ("map", 3):
            comprehension = Expr.Comprehension(
                kind: .map,
                range: target,
                first: try variableName(arguments[0], macro: name),
                second: nil,
                filter: arguments[1],
                body: arguments[2]
            )
        case ("all", 3), ("exists", 3), ("exists_one", 3), ("existsOne", 3), ("transformList", 3),
            ("transformMap", 3):
            let kinds: [String: Kind] = [
                "all": .all, "exists": .exists, "exists_one": .existsOne, "existsOne": .existsOne,
                "transformList": .transformList, "transformMap": .transformMap,
            ]
            comprehension = Expr.Comprehension(
                kind: kinds[name]!,
                range: target,
                first: try variableName(arguments[0], macro: name),
                second: try variableName(arguments[1], macro: name),
                filter: nil,
                body: arguments[2]
            )
        case ("transformList", 4), ("transformMap", 4):
            comprehension = Expr.Comprehension(
                kind: name == "transformList" ? .transformList : .transformMap,
                range: target,
                first: try variableName(arguments[0], macro: name),
                second: try variableName(arguments[1], macro: name),
                filter: arguments[2],
                body: arguments[3]
            )
        case ("optMap", 2), ("optFlatMap", 2):
            let variable = try variableName(arguments[0], macro: name)
            return try make(
                .optionalMap(target, variable, arguments[1], flat: name == "optFlatMap"),
                at: offset,
                children: [target, arguments[1]]
            )
        case ("bind", 3):
            if case .identifier("cel") = target.kind {
                let variable = try variableName(arguments[0], macro: "cel.bind")
                return try make(
                    .bind(variable, arguments[1], arguments[2]),
                    at: offset,
                    children: [arguments[1], arguments[2]]
                )
            }
        default:
            break
        }
        if let comprehension {
            if let second = comprehension.second, second == comprehension.first {
                throw error("\(name)() needs two different variable names", at: offset)
            }
            var children = [comprehension.range, comprehension.body]
            if let filter = comprehension.filter { children.append(filter) }
            return try make(.comprehension(comprehension), at: offset, children: children)
        }
        return try make(
            .call(target: target, function: name, arguments: arguments),
            at: offset,
            children: [target] + arguments
        )
    }
}
