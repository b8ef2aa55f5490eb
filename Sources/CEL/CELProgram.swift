// A compiled CEL expression: a tree of closures with function overloads resolved at compile time.

/// A compiled expression, ready to evaluate many times; cheap to copy and safe to share across tasks.
public struct CELProgram: Sendable {
    private final class Storage: Sendable {
        let root: Evaluator
        let slotCount: Int
        let maximumCost: Int
        let referencedVariables: Set<String>
        let source: String
        let expression: Expr
        /// The value of a program that is one literal (`'conversion'`, `42`): evaluating it builds no state.
        let constant: CELValue?

        init(
            root: @escaping Evaluator, slotCount: Int, maximumCost: Int, referencedVariables: Set<String>,
            source: String, expression: Expr
        ) {
            self.root = root
            self.expression = expression
            self.slotCount = slotCount
            self.maximumCost = maximumCost
            self.referencedVariables = referencedVariables
            self.source = source
            if case .literal(let value) = expression.kind { constant = value } else { constant = nil }
        }
    }

    private let storage: Storage

    init(
        root: @escaping Evaluator, slotCount: Int, referencedVariables: Set<String>, limits: CELLimits, source: String,
        expression: Expr
    ) {
        storage = Storage(
            root: root,
            slotCount: slotCount,
            maximumCost: limits.maximumCost,
            referencedVariables: referencedVariables,
            source: source,
            expression: expression
        )
    }

    /// The parsed, macro-expanded expression.
    var expression: Expr { storage.expression }

    /// The activation variables the expression reads, e.g. `["payload", "variables"]`
    /// (roots of field selections; comprehension and `cel.bind` variables are not included).
    /// Type names such as `int` appear too when used as values.
    public var referencedVariables: Set<String> { storage.referencedVariables }

    /// The expression's source text.
    public var source: String { storage.source }

    /// Evaluates the expression over `activation`.
    /// - Parameter activation: the variables the expression may read.
    /// - Throws: `CELError` with code `.evaluation` (no such key, no matching overload, overflow, …)
    ///   or `.limit` when the cost budget is exhausted.
    public func evaluate(_ activation: CELActivation) throws(CELError) -> CELValue {
        let storage = self.storage
        let context = EvaluationContext(
            variables: Variables(activation.variables),
            slotCount: storage.slotCount,
            maximumCost: storage.maximumCost
        )
        return try storage.root(context)
    }

    /// Evaluates the expression over the activation `scope` holds, reusing its evaluation state (same result as
    /// ``evaluate(_:)``, with its own cost budget).
    public func evaluate(in scope: CELEvaluationScope) throws(CELError) -> CELValue {
        let storage = self.storage
        if let constant = storage.constant { return constant }
        scope.context.prepare(slotCount: storage.slotCount, maximumCost: storage.maximumCost)
        return try storage.root(scope.context)
    }
}

/// The evaluation state of several programs run one after another over one activation (a rule's `match` and
/// fields): one allocation for all of them instead of one per ``CELProgram/evaluate(_:)``. Each evaluation starts
/// afresh (its own cost budget, no locals left over). Not for concurrent evaluations: make one per task.
public struct CELEvaluationScope {
    fileprivate let context: EvaluationContext

    public init(_ activation: CELActivation) {
        context = EvaluationContext(variables: Variables(activation.variables), slotCount: 0, maximumCost: 0)
    }

    /// The activation of `variables` (names distinct; of a repeated name the last value counts), without building a
    /// dictionary of them first: the relay makes one per record.
    public init(variables: [(String, CELValue)]) {
        context = EvaluationContext(variables: Variables(variables), slotCount: 0, maximumCost: 0)
    }

    /// Sets a variable for the evaluations that follow.
    public func set(_ name: String, to value: CELValue) {
        context.variables.set(name, value)
    }
}

extension CELEnvironment {
    /// Parses, expands macros and compiles `source` once.
    /// - Throws: `CELError` with code `.parse` (with line, column and a caret excerpt) or `.limit`.
    public func compile(_ source: String) throws(CELError) -> CELProgram {
        var parser = try Parser(source: source, limits: limits, macrosEnabled: macrosEnabled)
        let expr = try parser.parse()
        var compiler = Compiler(source: source)
        let root = try compiler.compile(expr)
        return CELProgram(
            root: root,
            slotCount: compiler.maximumSlots,
            referencedVariables: compiler.referencedVariables,
            limits: limits,
            source: source,
            expression: expr
        )
    }
}

typealias Evaluator = @Sendable (EvaluationContext) throws(CELError) -> CELValue

/// The state of one evaluation at a time (one thread, no access to a property overlaps another to it), so its
/// properties skip the run-time exclusivity checks, which cost more than the reads they guard (a variable lookup at
/// each reference).
final class EvaluationContext {
    @exclusivity(unchecked) var variables: Variables
    @exclusivity(unchecked) var locals: [CELValue]
    @exclusivity(unchecked) var cost = 0
    @exclusivity(unchecked) var maximumCost: Int

    init(variables: Variables, slotCount: Int, maximumCost: Int) {
        self.variables = variables
        locals = slotCount == 0 ? [] : Array(repeating: .null, count: slotCount)
        self.maximumCost = maximumCost
    }

    /// Ready for another program's evaluation: no cost spent, `slotCount` empty locals.
    func prepare(slotCount: Int, maximumCost: Int) {
        cost = 0
        self.maximumCost = maximumCost
        if locals.count != slotCount || locals.contains(where: { if case .null = $0 { false } else { true } }) {
            locals = slotCount == 0 ? [] : Array(repeating: .null, count: slotCount)
        }
    }

    @inline(__always)
    func charge(_ amount: Int) throws(CELError) {
        cost &+= amount
        if cost > maximumCost {
            throw CELError(
                code: .limit,
                message:
                    "evaluation cost exceeded the limit of \(maximumCost) (comprehension iterations and sizes of "
                    + "built lists and strings); simplify the expression or its input"
            )
        }
    }
}

/// An activation's variables, looked up by name at each reference an expression makes. A few (the relay's rules
/// read `payload`, and maybe `record`, `ce`, `variables`) are compared in turn, which costs less than hashing the
/// name at every reference; more are kept in a dictionary, so that a lookup stays cheap whatever their number.
struct Variables {
    /// The most variables compared in turn.
    static let listedLimit = 8

    private var listed: [(name: String, value: CELValue)] = []
    private var hashed: [String: CELValue]?

    init(_ variables: [String: CELValue]) {
        if variables.count <= Self.listedLimit {
            listed = variables.map { ($0.key, $0.value) }
        } else {
            hashed = variables
        }
    }

    init(_ variables: [(String, CELValue)]) {
        listed.reserveCapacity(min(variables.count, Self.listedLimit))
        for (name, value) in variables { set(name, value) }
    }

    subscript(name: String) -> CELValue? {
        if let hashed { return hashed[name] }
        for entry in listed where entry.name == name { return entry.value }
        return nil
    }

    /// Sets `name` (again: the last value counts), moving the variables into a dictionary past ``listedLimit``.
    mutating func set(_ name: String, _ value: CELValue) {
        if hashed != nil {
            hashed![name] = value
        } else if let index = listed.firstIndex(where: { $0.name == name }) {
            listed[index].value = value
        } else {
            listed.append((name, value))
            if listed.count > Self.listedLimit {
                hashed = Dictionary(listed, uniquingKeysWith: { _, last in last })
                listed = []
            }
        }
    }
}
