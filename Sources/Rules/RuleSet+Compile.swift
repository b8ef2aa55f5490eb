import CEL

extension RuleSet {
    /// Compiles every expression of `definitions` once and checks the rules.
    ///
    /// Errors: bad or duplicate names, empty topics, bad `/regex/` topics, unknown event keys, CEL parse errors,
    /// undeclared references (with the unquoted-string hint), undeclared `variables.X`, a `match` that cannot be a
    /// bool. Warnings: a conversion without `external_event_id`, an integer `sale_amount`, two conversion rules
    /// that can both fire for one record (``MoneyLint``).
    public static func compile(_ definitions: [RuleDefinition], options: Options = .init()) -> Compilation {
        var issues: [RuleIssue] = []
        var compiled: [CompiledRule] = []
        var seen: [String: Int] = [:]
        let environment = CELEnvironment(limits: options.limits)
        for (ruleIndex, definition) in definitions.enumerated() {
            let name = definition.name
            func issue(_ path: RuleIssue.Path, _ message: String, _ position: CELSourcePosition? = nil) {
                issues.append(
                    RuleIssue(ruleIndex: ruleIndex, rule: name, path: path, message: message, position: position))
            }
            if name.isEmpty || !name.utf8.allSatisfy(Self.isNameByte) {
                issue(.name, "rule name '\(name)' is invalid; use lower-case letters, digits and '-' ([a-z0-9-]+)")
            } else if let first = seen[name] {
                issue(.name, "duplicate rule name '\(name)' (rule #\(first + 1) has it too); names must be unique")
            } else {
                seen[name] = ruleIndex
            }
            // Topics.
            var exact = Set<String>()
            var patterns: [TopicPattern] = []
            if definition.topics.isEmpty {
                issue(.topics, "rule '\(name)' has no topics; list topic names or \"/regex/\" patterns")
            }
            for (index, topic) in definition.topics.enumerated() {
                if topic.count >= 2 && topic.hasPrefix("/") && topic.hasSuffix("/") {
                    let source = String(topic.dropFirst().dropLast())
                    do {
                        patterns.append(try TopicPattern(source))
                    } catch {
                        issue(.topic(index), "topic pattern \(topic) is not a valid regular expression: \(error)")
                    }
                } else if topic.isEmpty {
                    issue(.topic(index), "empty topic name in rule '\(name)'")
                } else {
                    exact.insert(topic)
                }
            }
            // Expressions.
            let variableNames = definition.variables.map(\.name)
            func program(
                _ source: String, _ path: RuleIssue.Path, _ what: String, scope: ReferenceLint.Scope = .event
            ) -> CELProgram? {
                for problem in ReferenceLint.problems(in: source, variables: variableNames) {
                    issue(path, "\(what): \(problem.message)", problem.position)
                }
                for problem in ReferenceLint.variableProblems(in: source, declared: variableNames, scope: scope) {
                    issue(path, "\(what): \(problem.message)", problem.position)
                }
                do {
                    return try environment.compile(source)
                } catch {
                    // The position is reported separately; keep the message to its first line (no caret excerpt).
                    let message =
                        error.message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? error.message
                    issue(path, "\(what): \(message)", error.position)
                    return nil
                }
            }
            var match: CELProgram?
            if let source = definition.match {
                match = program(source, .match, "match", scope: .match)
            }
            var variables: [(name: String, program: CELProgram)] = []
            var variableSet = Set<String>()
            for (index, variable) in definition.variables.enumerated() {
                if !Self.isIdentifier(variable.name) {
                    issue(
                        .variableName(index),
                        "variable name '\(variable.name)' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)")
                } else if !variableSet.insert(variable.name).inserted {
                    issue(.variableName(index), "duplicate variable name '\(variable.name)'")
                }
                if let compiledVariable = program(
                    variable.expression, .variableExpression(index), "variables.\(variable.name)",
                    scope: .variable(index))
                {
                    variables.append((variable.name, compiledVariable))
                }
            }
            var fields: [CompiledRule.Field] = []
            if let refund = definition.refund {
                if !definition.event.isEmpty {
                    issue(
                        .refund,
                        "rule '\(name)' has both event and refund; a rule emits one kind: split it into two rules")
                }
                let refundCompilation = compileRefund(refund, ruleIndex: ruleIndex, name: name) { source, path, what in
                    program(source, path, what)
                }
                fields = refundCompilation.fields
                issues += refundCompilation.issues
                compiled.append(
                    CompiledRule(
                        name: name, exactTopics: exact, topicPatterns: patterns, match: match, variables: variables,
                        fields: fields, isRefund: true)
                )
                continue
            }
            let keys = definition.event.map(\.field)
            if definition.event.isEmpty {
                issue(
                    .event,
                    "rule '\(name)' has no event fields; event_name is required (or give the rule a refund instead)")
            } else if !keys.contains("event_name") {
                issue(.event, "rule '\(name)' event has no event_name; it is required")
            }
            if keys.contains("affonso_id") && keys.contains("referral_id") {
                issue(.eventKey("affonso_id"), "set referral_id or its alias affonso_id, not both")
            }
            var fieldSet = Set<String>()
            for (key, source) in definition.event {
                guard EventValidator.fields.contains(key) else {
                    let hint =
                        Suggestion.closest(to: key, in: EventValidator.fields).map { "; did you mean '\($0)'?" } ?? ""
                    issue(.eventKey(key), "'\(key)' is not a field of Affonso events\(hint)")
                    continue
                }
                if !fieldSet.insert(key).inserted {
                    issue(.eventKey(key), "duplicate event field '\(key)'")
                }
                let sent = key == "affonso_id" ? "referral_id" : key
                if let compiledField = program(source, .eventValue(key), "event.\(key)") {
                    fields.append(.init(key: sent, written: key, program: compiledField, event: EventField(key: sent)))
                }
            }
            if let literal = Self.stringLiteral(definition.event.first { $0.field == "event_type" }?.expression) {
                if !EventValidator.isEventType(literal) {
                    issue(
                        .eventValue("event_type"),
                        "event_type '\(literal)' is not one of \(EventValidator.eventTypes.joined(separator: ", "))")
                } else if literal == "conversion" && !keys.contains("external_event_id") {
                    issues.append(
                        RuleIssue(
                            severity: .warning,
                            ruleIndex: ruleIndex,
                            rule: name,
                            path: .eventValue("event_type"),
                            message: "conversion rule '\(name)' has no external_event_id; it defaults to "
                                + "RULE:TOPIC:PARTITION:OFFSET, so a re-published source event is counted twice. "
                                + "Map the upstream event id (e.g. payload.id)"
                        )
                    )
                }
            }
            compiled.append(
                CompiledRule(
                    name: name,
                    exactTopics: exact,
                    topicPatterns: patterns,
                    match: match,
                    variables: variables,
                    fields: fields
                )
            )
        }
        issues += MoneyLint.issues(definitions, environment: environment)
        let hasErrors = issues.contains { $0.severity == .error }
        let ruleSet = hasErrors ? nil : RuleSet(definitions: definitions, rules: compiled, options: options)
        return Compilation(ruleSet: ruleSet, issues: issues)
    }

    /// Compiles a rule's `refund` fields: `conversion` is required, `currency` goes with `amount`, and a refund
    /// without `external_event_id` is warned about (a re-published refund would be sent twice).
    private static func compileRefund(
        _ refund: [(field: String, expression: String)],
        ruleIndex: Int,
        name: String,
        program: (String, RuleIssue.Path, String) -> CELProgram?
    ) -> (fields: [CompiledRule.Field], issues: [RuleIssue]) {
        var issues: [RuleIssue] = []
        func issue(_ path: RuleIssue.Path, _ message: String, severity: RuleIssue.Severity = .error) {
            issues.append(RuleIssue(severity: severity, ruleIndex: ruleIndex, rule: name, path: path, message: message))
        }
        let keys = refund.map(\.field)
        if !keys.contains("conversion") {
            issue(
                .refund,
                "rule '\(name)' refund has no conversion; it is required: the external_event_id of the conversion "
                    + "to reverse (e.g. payload.data.object.payment_intent)")
        }
        if keys.contains("amount") && !keys.contains("currency") {
            issue(
                .refundKey("amount"),
                "rule '\(name)' refund has amount but no currency; a partial refund needs both (omit amount for a "
                    + "full refund)")
        }
        var fields: [CompiledRule.Field] = []
        var fieldSet = Set<String>()
        for (key, source) in refund {
            guard RefundValidator.fields.contains(key) else {
                let known = RefundValidator.fields
                let hint = Suggestion.closest(to: key, in: known).map { "; did you mean '\($0)'?" } ?? ""
                issue(.refundKey(key), "'\(key)' is not a field of refunds (\(known.joined(separator: ", ")))\(hint)")
                continue
            }
            if !fieldSet.insert(key).inserted {
                issue(.refundKey(key), "duplicate refund field '\(key)'")
            }
            if let compiledField = program(source, .refundValue(key), "refund.\(key)") {
                fields.append(.init(key: key, written: "refund.\(key)", program: compiledField))
            }
        }
        if keys.contains("conversion") && !keys.contains("external_event_id") {
            issue(
                .refundKey("conversion"),
                "refund rule '\(name)' has no external_event_id; it defaults to RULE:TOPIC:PARTITION:OFFSET, so a "
                    + "re-published source event refunds twice. Map the upstream event id (e.g. payload.id)",
                severity: .warning)
        }
        return (fields, issues)
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-")
    }

    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.utf8.first, first == UInt8(ascii: "_") || Self.isLetter(first) else { return false }
        return text.utf8.allSatisfy { $0 == UInt8(ascii: "_") || Self.isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    /// The text of an expression that is only a quoted string literal (`'conversion'`), else nil.
    static func stringLiteral(_ source: String?) -> String? {
        guard let source else { return nil }
        let trimmed = Substring(source).trimmingSpaces()
        guard trimmed.count >= 2, let first = trimmed.first, first == "'" || first == "\"", trimmed.last == first
        else { return nil }
        let inner = trimmed.dropFirst().dropLast()
        guard !inner.contains(first), !inner.contains("\\") else { return nil }
        return String(inner)
    }
}
