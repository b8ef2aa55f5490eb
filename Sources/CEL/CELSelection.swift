// MARK: - CELSelection

/// Which parts of a variable's value an expression can read: the members it selects by name (`payload.order.id`,
/// `payload["order"]`, `has(payload.order)`), down to the values it uses whole. What a JSON decoder needs to build
/// and what it may skip.
public struct CELSelection: Sendable, Equatable {
    /// The whole value may be read (used other than by selecting members of it).
    public var isWhole: Bool
    /// The members read by name, each with what of it is read. Empty and not whole: only its presence is tested.
    public var members: [String: CELSelection]

    public init(isWhole: Bool = false, members: [String: CELSelection] = [:]) {
        self.isWhole = isWhole
        self.members = members
    }

    public static let whole = CELSelection(isWhole: true)

    /// What either selection reads.
    public mutating func formUnion(_ other: CELSelection) {
        if isWhole { return }
        if other.isWhole {
            self = .whole
            return
        }
        for (name, selection) in other.members {
            members[name, default: CELSelection()].formUnion(selection)
        }
    }

    mutating func insert(_ path: ArraySlice<String>, whole: Bool) {
        if isWhole { return }
        guard let first = path.first else {
            if whole { self = .whole }
            return
        }
        members[first, default: CELSelection()].insert(path.dropFirst(), whole: whole)
    }
}

extension CELProgram {
    /// What the expression can read of the activation variable `name`; `.whole` when it is used other than by
    /// selecting named members (passed to a function, iterated, indexed by a computed key, …). A comprehension or
    /// `cel.bind` variable of the same name counts as the variable itself, which only reads more.
    public func selection(of name: String) -> CELSelection {
        var collector = SelectionCollector(variable: name)
        collector.visit(expression)
        return collector.selection
    }
}

private struct SelectionCollector {
    let variable: String
    var selection = CELSelection()

    /// The member names of `expr` when it is a chain of selections from the variable (`variable.a["b"].c`).
    func path(_ expr: Expr) -> [String]? {
        switch expr.kind {
        case .identifier(let name):
            return name == variable ? [] : nil
        case .select(let operand, let field, _):
            return path(operand).map { $0 + [field] }
        case .index(let operand, let index, _):
            guard case .literal(.string(let key)) = index.kind else { return nil }
            return path(operand).map { $0 + [key] }
        default:
            return nil
        }
    }

    mutating func visit(_ expr: Expr) {
        if selection.isWhole { return }
        if let path = path(expr) {
            selection.insert(path[...], whole: true)
            return
        }
        switch expr.kind {
        case .literal, .identifier:
            break
        case .select(let operand, _, _):
            visit(operand)
        case .presence(let operand, let field):
            if let path = path(operand) {
                selection.insert((path + [field])[...], whole: false)
            } else {
                visit(operand)
            }
        case .index(let operand, let index, _):
            visit(operand)
            visit(index)
        case .call(let target, _, let arguments):
            if let target { visit(target) }
            arguments.forEach { visit($0) }
        case .not(let operand), .negate(let operand):
            visit(operand)
        case .and(let left, let right), .or(let left, let right):
            visit(left)
            visit(right)
        case .conditional(let condition, let then, let otherwise):
            visit(condition)
            visit(then)
            visit(otherwise)
        case .list(let elements, _):
            elements.forEach { visit($0) }
        case .map(let entries):
            for entry in entries {
                visit(entry.key)
                visit(entry.value)
            }
        case .comprehension(let comprehension):
            visit(comprehension.range)
            if let filter = comprehension.filter { visit(filter) }
            visit(comprehension.body)
            if comprehension.first == variable || comprehension.second == variable { selection = .whole }
        case .bind(let name, let value, let body):
            visit(value)
            visit(body)
            if name == variable { selection = .whole }
        case .optionalMap(let target, let name, let body, _):
            visit(target)
            visit(body)
            if name == variable { selection = .whole }
        }
    }
}
