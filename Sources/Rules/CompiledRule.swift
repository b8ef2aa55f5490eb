import CEL

/// A rule with every expression compiled once.
struct CompiledRule: Sendable {
    struct Field: Sendable {
        /// The key sent to Affonso (`affonso_id` is sent as `referral_id`).
        var key: String
        /// The key as written in the rule.
        var written: String
        var program: CELProgram
    }

    var name: String
    var exactTopics: Set<String>
    var topicPatterns: [TopicPattern]
    var match: CELProgram?
    var variables: [(name: String, program: CELProgram)]
    /// The event's fields, or the refund's (`isRefund`).
    var fields: [Field]
    /// Whether the rule maps records to refunds (`refund:`) rather than events.
    var isRefund = false

    /// Every expression of the rule: match, variables, fields.
    var programs: [CELProgram] { [match].compactMap { $0 } + variables.map(\.program) + fields.map(\.program) }

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
