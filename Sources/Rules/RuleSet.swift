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
    private let topicRules = Mutex<[String: TopicRules]>([:])

    /// The rules of one topic, and what of a record's JSON value they can read.
    struct TopicRules: Sendable {
        var indexes: [Int]
        var projection: JSONParser.Projection?
        /// Whether an expression of these rules reads `record` (else it is not built).
        var readsRecord: Bool
    }

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
        topicRules(topic).indexes
    }

    /// The rules whose topics include `topic`, and the projection of the JSON values they read (cached per topic).
    func topicRules(_ topic: String) -> TopicRules {
        if let cached = topicRules.withLock({ $0[topic] }) { return cached }
        let indexes = rules.indices.filter { rules[$0].matches(topic: topic) }
        let readsRecord = indexes.contains { rules[$0].programs.contains { $0.referencedVariables.contains("record") } }
        let entry = TopicRules(indexes: indexes, projection: projection(of: indexes), readsRecord: readsRecord)
        topicRules.withLock { $0[topic] = entry }
        return entry
    }

    /// What of a record's JSON value the rules at `indexes` can read: every member their expressions select from
    /// `payload`, plus what tells a structured CloudEvent apart (whose payload is its `data`). Nil (build it all)
    /// when an expression uses `payload` whole or reads `ce` (a structured CloudEvent's attributes).
    private func projection(of indexes: [Int]) -> JSONParser.Projection? {
        var payload = CELSelection()
        for index in indexes {
            for program in rules[index].programs {
                if program.referencedVariables.contains("ce") { return nil }
                payload.formUnion(program.selection(of: "payload"))
                if payload.isWhole { return nil }
            }
        }
        var root = payload
        root.members["data", default: CELSelection()].formUnion(payload)
        for name in ["specversion", "id", "source", "type", "datacontenttype", "time", "data_base64"] {
            root.members[name] = .whole
        }
        return .of(root)
    }

    /// Whether any rule reads `topic`.
    public func hasRules(forTopic topic: String) -> Bool { !ruleIndexes(forTopic: topic).isEmpty }

    /// Whether the rule named `name` exists and its topics include `topic`.
    public func rule(_ name: String, readsTopic topic: String) -> Bool {
        ruleIndexes(forTopic: topic).contains { rules[$0].name == name }
    }
}
