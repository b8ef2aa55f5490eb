import Foundation
import Rules
import Yams

/// Loads `relay.yaml` (docs/configuration.md): every error reads `file:line:col: message`.
public enum RelayConfigLoader {
    /// A duration as `relay.yaml` writes them (`250ms`, `30s`, `5m`, `1h30m`, `2d`), at most ten years; nil for
    /// anything else (negative, `inf`, `1e30s`, longer than ten years).
    public static func duration(_ text: String) -> Duration? {
        YAMLReader.parseDuration(text)
    }

    /// What a command needs from the file.
    public enum Purpose: Sendable, Hashable {
        /// The service: every `${VAR}` must be set.
        case service
        /// `rules check|test|apply`: unset variables outside rules are tolerated (they expand to "").
        case rules
        /// Commands that use Kafka but never call Affonso (`topics ensure`, `dlq inspect`): every `${VAR}` must be
        /// set, but no API key is needed.
        case kafka
    }

    /// A loaded configuration: the sections, the compiled rules and any warnings.
    public struct Loaded: Sendable {
        public var configuration: RelayConfiguration
        public var ruleSet: RuleSet
        /// `file:line:col: warning: …` lines (e.g. a conversion rule without external_event_id).
        public var warnings: [ConfigDiagnostic]
        /// Where some keys were written (`kafka.client_properties`, `affonso.api_key_file`), for
        /// ``RelayConfigLoader/checkRuntime(_:file:requiresAPIKey:)``.
        public var positions: [String: Position] = [:]
    }

    /// A line and column in the configuration file (1-based).
    public struct Position: Sendable, Hashable {
        public var line: Int
        public var column: Int
    }

    static let topLevelKeys = [
        "kafka", "affonso", "delivery", "retry", "server", "logging", "refunds", "rules", "rule_files",
    ]

    /// Reads, validates and compiles the configuration at `path`.
    /// - Parameters:
    ///   - path: the file; `rule_files` globs are relative to its directory.
    ///   - environment: for `${VAR}` expansion.
    ///   - purpose: `.rules` tolerates unset variables outside rules.
    /// - Throws: `ConfigError` with every error found (and the warnings).
    public static func load(
        path: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        purpose: Purpose = .service
    ) throws(ConfigError) -> Loaded {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(
                    file: path, line: 0, column: 0, message: "cannot read the configuration file (does it exist?)")
            ])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(diagnostics: [
                ConfigDiagnostic(file: path, line: 0, column: 0, message: "the configuration file is not UTF-8 text")
            ])
        }
        return try load(text: text, file: path, environment: environment, purpose: purpose)
    }

    /// Like `load(path:…)`, from text already read; `file` names it in errors and anchors `rule_files`.
    public static func load(
        text: String,
        file: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        purpose: Purpose = .service
    ) throws(ConfigError) -> Loaded {
        let reader = YAMLReader(file: file, text: text, environment: environment)
        var configuration = RelayConfiguration()
        var sources = RuleSources()
        var diagnostics: [ConfigDiagnostic] = []
        var settingsDiagnostics = Int.max
        if let root = reader.compose(text) {
            if let entries = reader.mapping(root, "the configuration", allowed: topLevelKeys) {
                reader.requiresVariables = purpose != .rules
                for entry in entries {
                    switch entry.key {
                    case "kafka": readKafka(entry.value, reader, &configuration.kafka)
                    case "affonso":
                        // Kafka-only commands never call Affonso: its section may name variables they lack.
                        reader.requiresVariables = purpose == .service
                        readAffonso(entry.value, reader, &configuration.affonso, purpose: purpose)
                        reader.requiresVariables = purpose != .rules
                    case "delivery": readDelivery(entry.value, reader, &configuration.delivery)
                    case "retry": readRetry(entry.value, reader, &configuration.retry)
                    case "server": readServer(entry.value, reader, &configuration.server)
                    case "logging": readLogging(entry.value, reader, &configuration.logging)
                    case "refunds": readRefunds(entry.value, reader, &configuration.refunds)
                    default: break
                    }
                }
                settingsDiagnostics = reader.diagnostics.count
                reader.requiresVariables = true
                reader.examplesOptional = purpose != .rules
                if let rules = entries.first(where: { $0.key == "rules" }) {
                    let read = RuleReader(reader: reader, directory: directory(of: file))
                    for rule in read.rules(rules.value) {
                        configuration.rules.append(rule.definition)
                        sources.append(rule.locations)
                    }
                }
                if let files = entries.first(where: { $0.key == "rule_files" }) {
                    let ruleFiles = readRuleFiles(
                        files.value, reader, relativeTo: file, environment: environment,
                        examplesOptional: purpose != .rules)
                    diagnostics += ruleFiles.diagnostics
                    configuration.rules += ruleFiles.rules.map(\.definition)
                    for rule in ruleFiles.rules { sources.append(rule.locations) }
                }
            }
        } else if reader.diagnostics.isEmpty {
            reader.error(line: 0, column: 0, "the configuration file is empty")
        }
        // What the rules section and rule files report (rather than the settings) is marked: `rules check` exits 1
        // for those and 2 for any other configuration error.
        diagnostics =
            reader.diagnostics.enumerated().map { index, diagnostic in
                var marked = diagnostic
                marked.isAboutRules = index >= settingsDiagnostics
                return marked
            } + diagnostics.map { $0.markedAboutRules() }
        var options = RuleSet.Options()
        options.maximumRecordBytes = configuration.kafka.maximumRecordBytes
        let compilation = RuleSet.compile(configuration.rules, options: options)
        for issue in compilation.issues + unsubscribedTopics(configuration) {
            diagnostics.append(sources.diagnostic(for: issue, fallbackFile: file).markedAboutRules())
        }
        diagnostics = sortedByPosition(diagnostics)
        let hasErrors = diagnostics.contains { $0.severity == .error }
        guard !hasErrors, let ruleSet = compilation.ruleSet else {
            throw ConfigError(diagnostics: diagnostics)
        }
        return Loaded(
            configuration: configuration, ruleSet: ruleSet, warnings: diagnostics, positions: reader.positions)
    }

    /// Warnings for rule topics the consumer does not subscribe to (`kafka.topics` / `kafka.topic_patterns`).
    static func unsubscribedTopics(_ configuration: RelayConfiguration) -> [RuleIssue] {
        let kafka = configuration.kafka
        guard !kafka.topics.isEmpty || !kafka.topicPatterns.isEmpty else { return [] }
        let patterns = kafka.topicPatterns.compactMap { try? Regex("^(?:" + $0 + ")") }
        var issues: [RuleIssue] = []
        for (index, rule) in configuration.rules.enumerated() {
            for (topicIndex, topic) in rule.topics.enumerated() where !(topic.hasPrefix("/") && topic.hasSuffix("/")) {
                if kafka.topics.contains(topic) { continue }
                if patterns.contains(where: { (try? $0.firstMatch(in: topic)) != nil }) { continue }
                issues.append(
                    RuleIssue(
                        severity: .warning,
                        ruleIndex: index,
                        rule: rule.name,
                        path: .topic(topicIndex),
                        message: "rule '\(rule.name)' reads topic '\(topic)', which is not in kafka.topics or "
                            + "kafka.topic_patterns; the relay will never receive its records"
                    )
                )
            }
        }
        return issues
    }

    /// Orders diagnostics by line and column within each file, files in order of first appearance.
    static func sortedByPosition(_ diagnostics: [ConfigDiagnostic]) -> [ConfigDiagnostic] {
        var fileOrder: [String: Int] = [:]
        for diagnostic in diagnostics where fileOrder[diagnostic.file] == nil {
            fileOrder[diagnostic.file] = fileOrder.count
        }
        return diagnostics.enumerated().sorted { lhs, rhs in
            let left = (fileOrder[lhs.element.file] ?? 0, lhs.element.line, lhs.element.column, lhs.offset)
            let right = (fileOrder[rhs.element.file] ?? 0, rhs.element.line, rhs.element.column, rhs.offset)
            return left < right
        }.map(\.element)
    }

    static func directory(of file: String) -> String {
        let url = URL(fileURLWithPath: file)
        return url.deletingLastPathComponent().path
    }
}
