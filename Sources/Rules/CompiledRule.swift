import CEL

/// A rule with every expression compiled once. A class: mapping a record hands it around without copying its fields.
final class CompiledRule: Sendable {
    struct Field: Sendable {
        /// The key sent to Affonso (`affonso_id` is sent as `referral_id`).
        var key: String
        /// The key as written in the rule.
        var written: String
        var program: CELProgram
        /// The event field it sets; nil in a refund rule (and only there: compiling rejects any other key).
        var event: EventField?
    }

    /// Which of the activation's variables besides `payload` the rule's expressions read: those it does not read
    /// are left out of the activation of each record.
    struct Reads: Sendable {
        var record: Bool
        var ce: Bool
        var variables: Bool
    }

    let name: String
    let exactTopics: Set<String>
    let topicPatterns: [TopicPattern]
    let match: CELProgram?
    let variables: [(name: String, program: CELProgram)]
    /// The event's fields, or the refund's (`isRefund`).
    let fields: [Field]
    /// Whether the rule maps records to refunds (`refund:`) rather than events.
    let isRefund: Bool
    let reads: Reads

    init(
        name: String, exactTopics: Set<String>, topicPatterns: [TopicPattern], match: CELProgram?,
        variables: [(name: String, program: CELProgram)], fields: [Field], isRefund: Bool = false
    ) {
        self.name = name
        self.exactTopics = exactTopics
        self.topicPatterns = topicPatterns
        self.match = match
        self.variables = variables
        self.fields = fields
        self.isRefund = isRefund
        let referenced = Self.programs(match, variables, fields).reduce(into: Set<String>()) {
            $0.formUnion($1.referencedVariables)
        }
        reads = Reads(
            record: referenced.contains("record"), ce: referenced.contains("ce"),
            variables: referenced.contains("variables"))
    }

    /// Every expression of the rule: match, variables, fields.
    var programs: [CELProgram] { Self.programs(match, variables, fields) }

    private static func programs(
        _ match: CELProgram?, _ variables: [(name: String, program: CELProgram)], _ fields: [Field]
    ) -> [CELProgram] {
        [match].compactMap { $0 } + variables.map(\.program) + fields.map(\.program)
    }

    func matches(topic: String) -> Bool {
        exactTopics.contains(topic) || topicPatterns.contains { $0.matches(topic) }
    }
}

/// A `/regex/` topic: matches when the regular expression matches somewhere in the topic name (anchor with `^…$`).
struct TopicPattern: @unchecked Sendable {
    let source: String
    let regex: Regex<AnyRegexOutput>

    init(_ source: String) throws {
        self.source = source
        regex = try Regex(source)
    }

    func matches(_ topic: String) -> Bool {
        (try? regex.firstMatch(in: topic)) != nil
    }
}
