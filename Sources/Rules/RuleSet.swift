import CEL
import Synchronization

/// Compiled topic rules: maps each record to Affonso events (docs/rules.md).
///
/// Thread-safe; `apply` never throws and never traps on bad input: every failure is an outcome.
public final class RuleSet: Sendable {
    /// Limits and settings of rule evaluation.
    public struct Options: Sendable, Hashable {
        /// Default: 1_048_576. Larger records fail with class `record_too_large`.
        public var maximumRecordBytes: Int = 1_048_576
        /// Default: 128. Deeper JSON fails with class `decode`.
        public var maximumJSONDepth: Int = 128
        /// Default: CEL's defaults (depth 250, cost 1,000,000 per evaluation).
        public var limits: CELLimits = .init()
        public init() {}
    }

    /// The result of compiling a list of rule definitions.
    public struct Compilation: Sendable {
        /// Nil when there is at least one error.
        public var ruleSet: RuleSet?
        /// Errors and warnings, in rule order.
        public var issues: [RuleIssue]
        public var errors: [RuleIssue] { issues.filter { $0.severity == .error } }
        public var warnings: [RuleIssue] { issues.filter { $0.severity == .warning } }
    }

    public let options: Options
    /// The rules as written.
    public let definitions: [RuleDefinition]
    let rules: [CompiledRule]
    let decoder: RecordDecoder
    private let topicRules = Mutex<[String: [Int]]>([:])

    init(definitions: [RuleDefinition], rules: [CompiledRule], options: Options) {
        self.definitions = definitions
        self.rules = rules
        self.options = options
        decoder = RecordDecoder(maximumDepth: options.maximumJSONDepth)
    }

    /// Rule names in order.
    public var ruleNames: [String] { rules.map(\.name) }

    /// Names of the refund rules (`refund:` instead of `event:`), in order.
    public var refundRuleNames: [String] { rules.filter(\.isRefund).map(\.name) }

    /// Indexes of the rules whose topics include `topic` (cached per topic).
    func ruleIndexes(forTopic topic: String) -> [Int] {
        if let cached = topicRules.withLock({ $0[topic] }) { return cached }
        let indexes = rules.indices.filter { rules[$0].matches(topic: topic) }
        topicRules.withLock { $0[topic] = indexes }
        return indexes
    }

    /// Whether any rule reads `topic`.
    public func hasRules(forTopic topic: String) -> Bool { !ruleIndexes(forTopic: topic).isEmpty }

    /// Whether the rule named `name` exists and its topics include `topic`.
    public func rule(_ name: String, readsTopic topic: String) -> Bool {
        ruleIndexes(forTopic: topic).contains { rules[$0].name == name }
    }
}
