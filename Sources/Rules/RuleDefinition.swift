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
    /// Affonso event field → CEL expression, in the order written. Empty in a refund rule.
    public var event: [(field: String, expression: String)]
    /// Default: nil (the rule emits events). Refund field (`conversion`, `amount`, `currency`, `reason`,
    /// `external_event_id`, `refunded_at`) → CEL expression, in the order written: the rule reverses a
    /// conversion instead of emitting an event (docs/rules.md, "Refund rules").
    public var refund: [(field: String, expression: String)]?
    /// Default: none. Run by `rules test`.
    public var examples: [RuleExample]

    public init(
        name: String,
        topics: [String],
        match: String? = nil,
        variables: [Variable] = [],
        event: [(field: String, expression: String)],
        refund: [(field: String, expression: String)]? = nil,
        examples: [RuleExample] = []
    ) {
        self.name = name
        self.topics = topics
        self.match = match
        self.variables = variables
        self.event = event
        self.refund = refund
        self.examples = examples
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.name == rhs.name && lhs.topics == rhs.topics && lhs.match == rhs.match && lhs.variables == rhs.variables
            && lhs.event.map(\.field) == rhs.event.map(\.field)
            && lhs.event.map(\.expression) == rhs.event.map(\.expression)
            && lhs.refund?.map(\.field) == rhs.refund?.map(\.field)
            && lhs.refund?.map(\.expression) == rhs.refund?.map(\.expression) && lhs.examples == rhs.examples
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
        /// The rule emits a refund containing (at least) these fields (`conversion`, `amount`, …) with these values.
        case refund(CELMap)
        /// The rule does not match the record.
        case skip
        /// The record fails (decode, mapping or validation) with a message containing this text.
        case error(String)
    }

    public var name: String
    public var record: SourceRecord
    public var expectation: Expectation
    /// Fields the emitted event (or refund) must not contain (`expect: {absent: [referral_id]}`), checked with
    /// `.event` and `.refund`.
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
