// The parsed (and macro-expanded) syntax tree of a CEL expression.

struct Expr: Sendable {
    indirect enum Kind: Sendable {
        case literal(CELValue)
        case identifier(String)
        /// `operand.field`, or `operand.?field` when `optional`.
        case select(Expr, String, optional: Bool)
        /// `has(operand.field)`.
        case presence(Expr, String)
        /// `operand[index]`, or `operand[?index]` when `optional`.
        case index(Expr, Expr, optional: Bool)
        /// A global (`target == nil`) or receiver-style call.
        case call(target: Expr?, function: String, arguments: [Expr])
        case not(Expr)
        case negate(Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        case conditional(Expr, Expr, Expr)
        /// List literal; `optional[i]` marks `?element`.
        case list([Expr], optional: [Bool])
        case map([MapEntry])
        case comprehension(Comprehension)
        /// `cel.bind(name, value, body)`.
        case bind(String, Expr, Expr)
        /// `target.optMap(name, body)` / `optFlatMap`.
        case optionalMap(Expr, String, Expr, flat: Bool)
    }

    struct MapEntry: Sendable {
        var key: Expr
        var value: Expr
        var optional: Bool
    }

    struct Comprehension: Sendable {
        enum Kind: Sendable { case all, exists, existsOne, map, filter, transformList, transformMap }
        var kind: Kind
        var range: Expr
        /// The first variable: the element (one-variable forms) or the index/key (two-variable forms).
        var first: String
        /// The value variable of the two-variable forms.
        var second: String?
        var filter: Expr?
        var body: Expr
    }

    var kind: Kind
    /// UTF-8 offset in the source.
    var offset: Int
    /// Height of this subtree (a leaf is 1).
    var depth: Int
}
