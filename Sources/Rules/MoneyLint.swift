import CEL

/// Finds rules that would send wrong money without failing: a truncated or integer `sale_amount` (or refund
/// `amount`), a `match` that can never be a bool, and two conversion rules that count one sale twice.
///
/// Runs on expressions that parse; parse errors are reported by the compiler.
enum MoneyLint {
    /// Problems about a whole expression point at its first character.
    static let start = CELSourcePosition(line: 1, column: 1, offset: 0)

    /// The problems of `definitions`, in rule order.
    static func issues(_ definitions: [RuleDefinition], environment: CELEnvironment) -> [RuleIssue] {
        var issues: [RuleIssue] = []
        var conversions: [(index: Int, match: CELAnalysis?)] = []
        for (ruleIndex, definition) in definitions.enumerated() {
            let name = definition.name
            func issue(
                _ severity: RuleIssue.Severity, _ path: RuleIssue.Path, _ message: String,
                _ position: CELSourcePosition? = nil
            ) {
                issues.append(
                    RuleIssue(
                        severity: severity, ruleIndex: ruleIndex, rule: name, path: path, message: message,
                        position: position))
            }
            // match: its type, and what it requires (for the overlap check).
            var matchAnalysis: CELAnalysis?
            if let source = definition.match, let analysis = try? environment.analyze(source) {
                matchAnalysis = analysis
                let type = analysis.resultType
                if type != .bool && type != .dyn {
                    issue(
                        .error, .match,
                        "match: must be a bool, but this expression is always \(article(type)) \(type); "
                            + "compare it (e.g. payload.type == 'invoice.paid')", start)
                }
            }
            // Variables in order: their types, and their integer divisions.
            var types: [String: CELStaticType] = [:]
            var divisions: [String: (index: Int, divisions: [CELAnalysis.IntegerDivision])] = [:]
            for (index, variable) in definition.variables.enumerated() {
                guard let analysis = try? environment.analyze(variable.expression, fieldTypes: ["variables": types])
                else { continue }
                types[variable.name] = analysis.resultType
                divisions[variable.name] = (index, analysis.integerDivisions)
            }
            // sale_amount, and a refund's amount: the same unit mistakes.
            let amounts: [(source: String?, path: RuleIssue.Path, label: String)] = [
                (
                    definition.event.first { $0.field == "sale_amount" }?.expression, .eventValue("sale_amount"),
                    "sale_amount"
                ),
                (
                    definition.refund?.first { $0.field == "amount" }?.expression, .refundValue("amount"),
                    "refund.amount"
                ),
            ]
            for amount in amounts {
                guard let source = amount.source,
                    let analysis = try? environment.analyze(source, fieldTypes: ["variables": types])
                else { continue }
                var reported = false
                for division in analysis.integerDivisions {
                    issue(.warning, amount.path, "\(amount.label): " + truncation(division), division.position)
                    reported = true
                }
                for variable in referencedVariables(source) {
                    guard let found = divisions[variable] else { continue }
                    for division in found.divisions {
                        issue(
                            .warning, .variableExpression(found.index),
                            "variables.\(variable) feeds \(amount.label): " + truncation(division), division.position)
                        reported = true
                    }
                }
                // A constant (`sale_amount: "99"`) is a deliberate whole amount, not a unit mistake.
                let isConstant = Int64(Substring(source).trimmingSpaces()) != nil
                if !reported && !isConstant && analysis.resultType.isInteger {
                    issue(
                        .warning, amount.path,
                        "\(amount.label) is always an \(analysis.resultType): Affonso takes the amount in major units "
                            + "(49.99), and an integer here is usually minor units (cents); if it is, write "
                            + "double(x) / 100.0", start)
                }
            }
            if RuleSet.stringLiteral(definition.event.first { $0.field == "event_type" }?.expression) == "conversion" {
                conversions.append((ruleIndex, matchAnalysis))
            }
        }
        issues += overlaps(definitions, conversions)
        return issues
    }

    private static func article(_ type: CELStaticType) -> String {
        type == .int || type == .uint ? "an" : "a"
    }

    private static func truncation(_ division: CELAnalysis.IntegerDivision) -> String {
        let divisor = division.literalDivisor.map(String.init) ?? "100"
        return "integer division truncates (4999 / 100 is 49, not 49.99); divide doubles: double(x) / \(divisor).0"
    }

    /// Names `X` of the `variables.X` an expression reads.
    private static func referencedVariables(_ source: String) -> [String] {
        var names: [String] = []
        var rest = Substring(source)
        while let range = rest.range(of: "variables.") {
            let tail = rest[range.upperBound...].drop { $0 == "?" }
            let name = tail.prefix { $0 == "_" || $0.isLetter || $0.isNumber }
            if !name.isEmpty && !names.contains(String(name)) { names.append(String(name)) }
            rest = rest[range.upperBound...]
        }
        return names
    }

    // MARK: - Overlapping conversions

    private static func overlaps(
        _ definitions: [RuleDefinition], _ conversions: [(index: Int, match: CELAnalysis?)]
    ) -> [RuleIssue] {
        var issues: [RuleIssue] = []
        for (position, later) in conversions.enumerated() {
            for earlier in conversions[..<position] {
                let first = definitions[earlier.index]
                let second = definitions[later.index]
                guard let topic = sharedTopic(first.topics, second.topics) else { continue }
                let path: RuleIssue.Path = second.match == nil ? .eventValue("event_type") : .match
                let firstRequires = earlier.match?.requirements ?? [:]
                let secondRequires = later.match?.requirements ?? [:]
                let disjoint =
                    earlier.match.flatMap { a in later.match.map { b in a.excludes(b) } } ?? false
                if !disjoint {
                    issues.append(
                        RuleIssue(
                            severity: .warning, ruleIndex: later.index, rule: second.name, path: path,
                            message: "rules '\(first.name)' and '\(second.name)' can both emit a conversion for the "
                                + "same record of topic '\(topic)' (their matches do not exclude each other), so "
                                + "that sale is counted twice; make the matches exclusive (e.g. payload.type == "
                                + "'…' with different values) or keep one conversion rule",
                            position: start))
                } else if let message = stripeFirstPayment(first.name, firstRequires, second.name, secondRequires) {
                    issues.append(
                        RuleIssue(
                            severity: .warning, ruleIndex: later.index, rule: second.name, path: path,
                            message: message, position: start))
                }
            }
        }
        return issues
    }

    /// A topic (or `/pattern/`) both rules read, if one is certain.
    private static func sharedTopic(_ a: [String], _ b: [String]) -> String? {
        func pattern(_ topic: String) -> TopicPattern? {
            guard topic.count >= 2, topic.hasPrefix("/"), topic.hasSuffix("/") else { return nil }
            return try? TopicPattern(String(topic.dropFirst().dropLast()))
        }
        for x in a {
            for y in b {
                if x == y { return x }
                switch (pattern(x), pattern(y)) {
                case (let p?, nil) where p.matches(y): return y
                case (nil, let p?) where p.matches(x): return x
                default: continue
                }
            }
        }
        return nil
    }

    /// Stripe sends both `checkout.session.completed` and `invoice.paid` (billing_reason `subscription_create`)
    /// for a new subscription's first payment: two records, one sale.
    private static func stripeFirstPayment(
        _ firstName: String, _ first: [String: CELAnalysis.Requirement],
        _ secondName: String, _ second: [String: CELAnalysis.Requirement]
    ) -> String? {
        func allows(_ requirements: [String: CELAnalysis.Requirement], _ path: String, _ value: String) -> Bool {
            guard let requirement = requirements[path] else { return true }
            if requirement.excluded.contains(.string(value)) { return false }
            return requirement.allowed?.contains(.string(value)) ?? true
        }
        func only(_ requirements: [String: CELAnalysis.Requirement], _ type: String) -> Bool {
            requirements["payload.type"]?.allowed?.contains(.string(type)) ?? false
        }
        let pairs = [(first, firstName, second, secondName), (second, secondName, first, firstName)]
        for (invoice, invoiceName, checkout, checkoutName) in pairs
        where only(invoice, "invoice.paid") && only(checkout, "checkout.session.completed") {
            guard allows(invoice, "payload.data.object.billing_reason", "subscription_create"),
                allows(checkout, "payload.data.object.mode", "subscription")
            else { return nil }
            return "rules '\(checkoutName)' (checkout.session.completed) and '\(invoiceName)' (invoice.paid) both "
                + "emit a conversion for a new subscription's first payment, which Stripe reports with both events, "
                + "so that sale is counted twice; add payload.data.object.billing_reason != 'subscription_create' "
                + "to the invoice.paid match or payload.data.object.mode == 'payment' to the "
                + "checkout.session.completed match (docs/stripe.md)"
        }
        return nil
    }
}
