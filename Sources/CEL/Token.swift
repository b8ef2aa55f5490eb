// A lexical token of CEL source with its UTF-8 offset.

struct Token: Sendable {
    enum Kind: Sendable, Equatable {
        case int(Int64)
        /// An integer literal one past `Int64.max` (only valid after unary minus).
        case intMinOverflow
        case uint(UInt64)
        case double(Double)
        case string(String)
        case bytes([UInt8])
        case identifier(String)
        /// A backtick-quoted identifier (only valid as a field name).
        case quotedIdentifier(String)
        case punctuation(String)
        case end
    }
    var kind: Kind
    var offset: Int
}
