import CEL

/// A problem found while compiling rules: an error (the rule set is unusable) or a warning.
///
/// `path` names the part of the rule, so the configuration layer can point at its YAML line and column;
/// `position` is where inside that expression, when the problem is in an expression.
public struct RuleIssue: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }

    /// The part of a rule an issue is about.
    public enum Path: Sendable, Hashable {
        case rule
        case name
        case topics
        case topic(Int)
        case match
        case variableName(Int)
        case variableExpression(Int)
        case eventKey(String)
        case eventValue(String)
        case event
        case refundKey(String)
        case refundValue(String)
        case refund
        case example(Int)
    }

    public var severity: Severity
    /// Index of the rule in the order given.
    public var ruleIndex: Int
    public var rule: String
    public var path: Path
    public var message: String
    /// Position inside the expression (1-based line and column), for expression problems.
    public var position: CELSourcePosition?

    public init(
        severity: Severity = .error,
        ruleIndex: Int,
        rule: String,
        path: Path,
        message: String,
        position: CELSourcePosition? = nil
    ) {
        self.severity = severity
        self.ruleIndex = ruleIndex
        self.rule = rule
        self.path = path
        self.message = message
        self.position = position
    }

    public var description: String {
        "\(severity.rawValue): rule '\(rule)': \(message)"
    }
}
