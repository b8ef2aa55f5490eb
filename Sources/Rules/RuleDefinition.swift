import CEL

/// A topic rule as written in `relay.yaml` (docs/rules.md), before compilation.
public struct RuleDefinition: Sendable, Hashable {
    /// A `variables` entry: evaluated in order, visible to later expressions as `variables.NAME`.
    public struct Variable: Sendable, Hashable {
        public var name: String
        public var expression: String
        public init(name: String, expression: String) {
            self.name = name
            self.expression = expression
        }
    }

    /// Unique, `[a-z0-9-]+`.
    public var name: String
    /// Topic names, or `/regex/` patterns.
    public var topics: [String]
    /// Default: nil (every record of the rule's topics matches).
    public var match: String?
    /// Default: none.
    public var variables: [Variable]
    /// Affonso event field → CEL expression, in the order written.
    public var event: [(field: String, expression: String)]
    /// Default: none. Run by `rules test`.
    public var examples: [RuleExample]

    public init(
        name: String,
        topics: [String],
        match: String? = nil,
        variables: [Variable] = [],
        event: [(field: String, expression: String)],
        examples: [RuleExample] = []
    ) {
        self.name = name
        self.topics = topics
        self.match = match
        self.variables = variables
        self.event = event
        self.examples = examples
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.name == rhs.name && lhs.topics == rhs.topics && lhs.match == rhs.match && lhs.variables == rhs.variables
            && lhs.event.map(\.field) == rhs.event.map(\.field)
            && lhs.event.map(\.expression) == rhs.event.map(\.expression) && lhs.examples == rhs.examples
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(topics)
    }
}

/// One `examples` entry of a rule: a record and what the rule must make of it.
public struct RuleExample: Sendable, Hashable {
    public enum Expectation: Sendable, Hashable {
        /// The rule emits an event containing (at least) these fields with these values.
        case event(CELMap)
        /// The rule does not match the record.
        case skip
        /// The record fails (decode, mapping or validation) with a message containing this text.
        case error(String)
    }

    public var name: String
    public var record: SourceRecord
    public var expectation: Expectation
    /// Event fields the emitted event must not contain (`expect: {absent: [referral_id]}`), checked with `.event`.
    /// Default: none.
    public var absent: [String]
    /// Where the example is written (`rules/stripe.yaml:42`), for reports. Default: nil.
    public var location: String?

    public init(
        name: String, record: SourceRecord, expectation: Expectation, absent: [String] = [], location: String? = nil
    ) {
        self.name = name
        self.record = record
        self.expectation = expectation
        self.absent = absent
        self.location = location
    }
}
