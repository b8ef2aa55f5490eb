import CEL
import Rules

/// Builds a rule set from definitions, failing the test on compile errors.
func makeRuleSet(_ rules: [RuleDefinition], options: RuleSet.Options = .init()) throws -> RuleSet {
    let compilation = RuleSet.compile(rules, options: options)
    guard let ruleSet = compilation.ruleSet else {
        throw TestFailure("rules did not compile: \(compilation.errors.map(\.message))")
    }
    return ruleSet
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func rule(
    _ name: String,
    topics: [String] = ["t"],
    match: String? = nil,
    variables: [(String, String)] = [],
    event: [(String, String)]
) -> RuleDefinition {
    RuleDefinition(
        name: name,
        topics: topics,
        match: match,
        variables: variables.map { .init(name: $0.0, expression: $0.1) },
        event: event.map { (field: $0.0, expression: $0.1) }
    )
}

func record(_ json: String, topic: String = "t", headers: [(String, String)] = [], key: String? = nil) -> SourceRecord {
    SourceRecord(
        topic: topic,
        partition: 2,
        offset: 17,
        key: key.map { Array($0.utf8) },
        value: Array(json.utf8),
        headers: headers.map { SourceRecord.Header($0.0, $0.1) }
    )
}

extension RecordOutcome {
    var results: [RuleResult] {
        if case .results(let results) = self { return results }
        return []
    }
    var recordError: RulesError? {
        if case .failed(let error) = self { return error }
        return nil
    }
    var isSkipped: Bool {
        if case .skipped = self { return true }
        return false
    }
}

/// The repository root (Tests/RulesTests/ is two levels below it).
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()
