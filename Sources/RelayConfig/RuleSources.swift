import Rules

/// Where each part of each rule was written, to turn a `RuleIssue` into `file:line:col: message`.
struct RuleSources {
    struct Locations {
        var rule: ExpressionLocation?
        var parts: [RuleIssue.Path: ExpressionLocation] = [:]
    }

    private var rules: [Locations] = []

    mutating func append(_ locations: Locations) { rules.append(locations) }

    func diagnostic(for issue: RuleIssue, fallbackFile: String) -> ConfigDiagnostic {
        let severity: ConfigDiagnostic.Severity = issue.severity == .error ? .error : .warning
        guard issue.ruleIndex < rules.count else {
            return ConfigDiagnostic(severity: severity, file: fallbackFile, line: 0, column: 0, message: issue.message)
        }
        let locations = rules[issue.ruleIndex]
        var location = locations.parts[issue.path]
        if location == nil, case .eventValue(let key) = issue.path { location = locations.parts[.eventKey(key)] }
        if location == nil, case .refundValue(let key) = issue.path { location = locations.parts[.refundKey(key)] }
        if location == nil, case .topic = issue.path { location = locations.parts[.topics] }
        if location == nil, issue.path == .event || issue.path == .refund || issue.path == .topics {
            location = locations.parts[.name]
        }
        guard let location = location ?? locations.rule else {
            return ConfigDiagnostic(severity: severity, file: fallbackFile, line: 0, column: 0, message: issue.message)
        }
        let (line, column) = location.map(issue.position)
        return ConfigDiagnostic(
            severity: severity, file: location.file, line: line, column: column, message: issue.message)
    }
}
