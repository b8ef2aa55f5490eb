import CEL

extension RuleSet {
    /// The result of one rule example.
    public struct ExampleReport: Sendable, Hashable {
        public var rule: String
        public var example: String
        /// Where the example is written (`file:line`), when known.
        public var location: String?
        /// Nil when the example passed; otherwise what differed.
        public var failure: String?
        public var passed: Bool { failure == nil }
    }

    /// Every key a rule's `event` may set (docs/affonso.md).
    public static var eventFields: [String] { EventValidator.fields }

    /// Every key a rule's `refund` may set (docs/rules.md, "Refund rules").
    public static var refundFields: [String] { RefundValidator.fields }

    /// Runs the `examples` of every rule, or of the rules named in `only` (the record goes through that rule only).
    public func runExamples(only: Set<String>? = nil) -> [ExampleReport] {
        var reports: [ExampleReport] = []
        for (definition, rule) in zip(definitions, rules) where only?.contains(rule.name) ?? true {
            for example in definition.examples {
                reports.append(
                    ExampleReport(
                        rule: rule.name, example: example.name, location: example.location,
                        failure: check(example, rule: rule))
                )
            }
        }
        return reports
    }

    private func check(_ example: RuleExample, rule: CompiledRule) -> String? {
        var record = example.record
        if record.topic.isEmpty {
            record.topic = rule.exactTopics.sorted().first ?? ""
        }
        guard rule.matches(topic: record.topic) else {
            return "topic '\(record.topic)' is not one of the rule's topics"
        }
        let outcome = apply(record, onlyRule: rule.name)
        let ruleResult: RuleResult?
        switch outcome {
        case .skipped: ruleResult = nil
        case .failed(let error):
            if case .error(let text) = example.expectation, error.message.contains(text) || error.errorClass == text {
                return nil
            }
            return "expected \(describe(example.expectation)), got \(error.errorClass) error: \(error.message)"
        case .results(let results): ruleResult = results.first { $0.rule == rule.name }
        }
        switch (example.expectation, ruleResult?.result) {
        case (.skip, nil): return nil
        case (.skip, .some(.success(let event))): return "expected skip, got \(Self.describe(event))"
        case (.skip, .some(.failure(let error))):
            return "expected skip, got \(error.errorClass) error: \(error.message)"
        case (.error, nil): return "expected an error, but the rule did not match (skipped)"
        case (.error, .some(.success(let event))): return "expected an error, got \(Self.describe(event))"
        case (.error(let text), .some(.failure(let error))):
            if error.message.contains(text) || error.errorClass == text { return nil }
            return "expected an error containing '\(text)', got \(error.errorClass) error: \(error.message)"
        case (.event, nil), (.refund, nil):
            return "expected \(describe(example.expectation)), but the rule did not match (skipped)"
        case (.event, .some(.failure(let error))), (.refund, .some(.failure(let error))):
            return "expected \(describe(example.expectation)), got \(error.errorClass) error: \(error.message)"
        case (.event, .some(.success(let event))) where event.isRefund,
            (.refund, .some(.success(let event))) where !event.isRefund:
            return "expected \(describe(example.expectation)), got \(Self.describe(event))"
        case (.event(let expected), .some(.success(let event))), (.refund(let expected), .some(.success(let event))):
            var fields = event.fields
            if let refund = event.refund {
                fields = CELMap(event.sortedFields + [("conversion", .string(refund.conversionExternalEventID))])
            }
            let kind = event.isRefund ? "refund" : "event"
            var differences: [String] = []
            for (key, value) in expected.entries {
                let name = JSONWriter.keyString(key)
                let sentName = name == "affonso_id" && !event.isRefund ? "referral_id" : name
                guard let actual = fields[sentName] else {
                    differences.append("\(name): expected \(JSONWriter.string(value)), but the field is not sent")
                    continue
                }
                if !JSONComparison.equal(value, actual) {
                    differences.append(
                        "\(name): expected \(JSONWriter.string(value)), got \(JSONWriter.string(actual))")
                }
            }
            for name in example.absent {
                let sentName = name == "affonso_id" && !event.isRefund ? "referral_id" : name
                if let actual = fields[sentName] {
                    differences.append("\(name): expected absent, but the \(kind) sends \(JSONWriter.string(actual))")
                }
            }
            return differences.isEmpty ? nil : differences.joined(separator: "; ")
        }
    }

    /// What a rule made, for a report: `event {…}` or `refund of CONVERSION {…}`.
    static func describe(_ event: MappedEvent) -> String {
        if let refund = event.refund {
            return "refund of \(refund.conversionExternalEventID) \(event.bodyString)"
        }
        return "event \(event.bodyString)"
    }

    private func describe(_ expectation: RuleExample.Expectation) -> String {
        switch expectation {
        case .event: "an event"
        case .refund: "a refund"
        case .skip: "skip"
        case .error(let text): "an error containing '\(text)'"
        }
    }
}

/// Equality of values as JSON: numbers compare by value (`99` equals `99.0`), timestamps as RFC 3339 strings.
enum JSONComparison {
    static func equal(_ lhs: CELValue, _ rhs: CELValue) -> Bool {
        switch (normalize(lhs), normalize(rhs)) {
        case (.list(let a), .list(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case (.map(let a), .map(let b)):
            guard a.count == b.count else { return false }
            return a.entries.allSatisfy { entry in
                b.entries.contains {
                    JSONWriter.keyString($0.key) == JSONWriter.keyString(entry.key) && equal(entry.value, $0.value)
                }
            }
        case (let a, let b):
            if let x = number(a), let y = number(b) { return x == y }
            return a == b
        }
    }

    private static func normalize(_ value: CELValue) -> CELValue {
        switch value {
        case .timestamp, .duration, .bytes, .type: .string(JSONWriter.keyString(value).trimmingQuotes())
        case .optional(let wrapped): wrapped.map(normalize) ?? .null
        default: value
        }
    }

    private static func number(_ value: CELValue) -> Double? {
        switch value {
        case .int(let int): Double(int)
        case .uint(let uint): Double(uint)
        case .double(let double): double
        default: nil
        }
    }
}

extension String {
    fileprivate func trimmingQuotes() -> String {
        count >= 2 && hasPrefix("\"") && hasSuffix("\"") ? String(dropFirst().dropLast()) : self
    }
}
