/// Why a record could not become Affonso events: the single error type of the Rules module.
///
/// `errorClass` is the error class (docs/affonso.md) that dead letters and metrics carry.
public struct RulesError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case mapping, validation, decode
            case recordTooLarge = "record_too_large"
        }
        private let value: Value
        /// An expression failed (no such key, no matching overload, limit exceeded): class `mapping`.
        public static let mapping = Code(value: .mapping)
        /// The event breaks the Affonso contract (docs/affonso.md): class `validation`.
        public static let validation = Code(value: .validation)
        /// The record value is not valid JSON / UTF-8 / CloudEvent: class `decode`.
        public static let decode = Code(value: .decode)
        /// The record is larger than `max_record_bytes`: class `record_too_large`.
        public static let recordTooLarge = Code(value: .recordTooLarge)
        public var description: String { value.rawValue }
    }

    public var code: Code
    /// Human message naming rule, field and value where they apply.
    public var message: String
    /// The rule that failed, for per-rule errors.
    public var rule: String?
    /// The event field (or `match`, `variables.NAME`) that failed.
    public var field: String?

    public init(code: Code, message: String, rule: String? = nil, field: String? = nil) {
        self.code = code
        self.message = message
        self.rule = rule
        self.field = field
    }

    /// The error class (docs/affonso.md): `mapping`, `validation`, `decode` or `record_too_large`.
    public var errorClass: String { code.description }

    public var description: String { "\(errorClass): \(message)" }
}
